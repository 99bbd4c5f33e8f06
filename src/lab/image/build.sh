#!/bin/bash
# Builds the lab's factory image (a Debian rootfs of RELEASE that mimics HardKernel's minimal
# Ubuntu image) and the local apt repository the nodes install from, into OUT/rootfs and OUT/repo.
# Runs as root with Debian's package mirrors reachable; the result is cached by the caller.
# Usage: build.sh OUT [RELEASE [ARCH]]   (OUT must not exist; the caller renames a finished build
# into place; RELEASE: bookworm, the default, or bullseye; ARCH: amd64, the default, or arm64, which
# runs the image's programs under qemu-user: the caller registers it with binfmt_misc first)
set -euo pipefail
out=${1:?usage: build.sh OUT [RELEASE [ARCH]]}
release=${2:-bookworm}
arch=${3:-amd64}
case $release in bookworm | bullseye) ;; *) echo "unknown release: $release" >&2; exit 2 ;; esac
case $arch in amd64 | arm64) ;; *) echo "unknown architecture: $arch" >&2; exit 2 ;; esac
mkdir -p "$out/repo"

# The Debian sources this machine is set up with (for bookworm), with the release's name instead of
# bookworm's; mmdebstrap pastes a file argument verbatim (one-line or deb822, by its name's suffix).
sources=()
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
  [ -s "$f" ] && grep -q 'debian' "$f" || continue
  sed "s/\bbookworm\b/$release/g" "$f" > "$work/$(basename "$f")"
  sources+=("$work/$(basename "$f")")
done

# Packages a node installs later from the lab repository (docker, HA, TFTP, GlusterFS; git for a node that runs
# the controller as a service; python3-apt for the bench's Ansible peer), downloaded against the
# base's own dpkg status so that exactly what the base lacks lands in the repository.
repo_packages="docker.io haproxy keepalived tftpd-hpa git python3-apt glusterfs-server glusterfs-client"
# The datastore and the database (etcd 3.4, PostgreSQL 15 run by Patroni 3.0): bookworm's versions;
# bullseye has none that match them, so a bullseye node carries none.
[ "$release" = bookworm ] && repo_packages="$repo_packages etcd-server etcd-client patroni postgresql-15 python3-etcd"

mmdebstrap --variant=minbase --mode=root --quiet --architectures="$arch" \
  --include=systemd,systemd-sysv,dbus,libpam-systemd,openssh-server,sudo,iproute2,iptables,procps,kmod,ufw,tftp-hpa,ca-certificates \
  --customize-hook='mkdir -p "$1/tmp/repo" && chroot "$1" apt-get install -y -q --download-only --no-install-recommends -o Dir::Cache::archives=/tmp/repo/ '"$repo_packages"' && mv "$1"/tmp/repo/*.deb '"$out/repo/"' && rm -rf "$1/tmp/repo"' \
  --customize-hook='chroot "$1" apt-get clean && rm -rf "$1"/var/lib/apt/lists/*' \
  "$release" "$out/rootfs" "${sources[@]}"

(cd "$out/repo" && apt-ftparchive packages . > Packages && apt-ftparchive release . > Release)

# The factory image: what a freshly flashed board has.
root=$out/rootfs
here=$(dirname "$(readlink -f "$0")")
echo 'root:odroid' | chroot "$root" chpasswd
printf 'deb [trusted=yes] file:/srv/picotrader-repo ./\n' > "$root/etc/apt/sources.list"
rm -f "$root"/etc/apt/sources.list.d/*
cat > "$root/etc/ssh/sshd_config.d/10-factory.conf" <<'CONF'
PermitRootLogin yes
PasswordAuthentication yes
CONF
# Each node makes its own host keys on first boot unless the lab gave it some.
rm -f "$root"/etc/ssh/ssh_host_*
mkdir -p "$root/etc/systemd/system/ssh.service.d"
printf '[Service]\nExecStartPre=\nExecStartPre=/usr/bin/ssh-keygen -A\nExecStartPre=/usr/sbin/sshd -t\n' \
  > "$root/etc/systemd/system/ssh.service.d/keygen.conf"
printf '/swapfile none swap sw 0 0\n' >> "$root/etc/fstab"
mkdir -p "$root/media/boot"
cp "$here/boot.ini" "$root/media/boot/boot.ini"
: > "$root/etc/machine-id"
# A container has no console login to wait for, and nothing to resolve names with.
chroot "$root" systemctl mask getty@tty1.service console-getty.service systemd-resolved.service >/dev/null 2>&1 || true
