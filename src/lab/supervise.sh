#!/bin/bash
# The power supply and firmware of one lab node. Boots the node with systemd-nspawn; when the node
# reboots (nspawn exits 133) it reads /media/boot/boot.ini again, as an Odroid's u-boot does, and
# boots it again. Any other exit is a power-off: the node stays off. SIGTERM powers the node off.
# Each boot gets a fresh network namespace, as a board's kernel starts with no firewall rules and
# default sysctls: the node's veth is plugged into the lab's bridge again.
# The board keeps its MAC address across boots, so its neighbours' ARP caches stay right.
# The board's data disk (the eMMC's free space, a filesystem of its own) is NODE_DIR/data, at /data
# on the node: another device than the root filesystem, with trusted xattrs (this machine's ext4);
# re-imaging wipes it. /dev/fuse is the node's too, for FUSE mounts (GlusterFS's client).
# A boot.ini that loads the kernel with u-boot's `tftp` command makes it fetch those files from the
# `serverip` it names, with a real TFTP client in the lab's network; a file that cannot be fetched
# (or whose `hash verify sha256` fails) halts the board, as u-boot would. A node booted that way
# sees PICOTRADER_LAB_BOOT=tftp in PID 1's environment (on a board: picotrader.boot=tftp on the
# kernel command line).
# A boot.ini that also writes the fetched parts to the eMMC (`mmc write`) re-images the board: once
# every part is fetched and its checksum verified, the node's own layer is wiped and laid again
# from its seed (the factory image, with this board's host key and the lab's key). When a fetch or
# a checksum fails, nothing is wiped: the saved stock boot.ini.emmc is put back, the reason is left
# in /media/boot/picotrader-reimage.failed (as the script would with u-boot's fatwrite), and the
# board boots its old system.
# Environment (set by src/lab/lab.ts): LAB NODE ROOT NETNS LAB_NETNS VETH MAC ADDRESS MACHINE REPO
# IMAGE_ROOT CGROUP NODE_DIR PICOTRADER (this package, bound at /opt/picotrader) NODE_BIN (its node)
# NATIVE_ROOT (an emulated node only: the amd64 image whose iptables it runs)
set -u
log() { printf '%s %s\n' "$(date -u +%FT%TZ)" "$*" >> "$NODE_DIR/supervisor.log"; }

plug_network() {
  ip netns del "$NETNS" 2>/dev/null
  ip -n "$LAB_NETNS" link del "$VETH" 2>/dev/null
  ip netns add "$NETNS" &&
    ip -n "$NETNS" link set lo up &&
    ip -n "$LAB_NETNS" link add "$VETH" type veth peer name eth0 address "$MAC" netns "$NETNS" &&
    ip -n "$LAB_NETNS" link set "$VETH" master br0 up &&
    ip -n "$NETNS" addr add "$ADDRESS" dev eth0 &&
    ip -n "$NETNS" link set eth0 up
}

# Fetches the files the boot.ini names with `tftp ADDR FILE`, verifying `hash verify sha256 ... HEX`
# lines that follow them. Prints the boot mode ("tftp" or "") on success; fails naming the file.
fetch_tftp() {
  local ini=$1 server file dir=$NODE_DIR/tftp-fetch line want got
  grep -q '^tftp ' "$ini" || return 0
  server=$(sed -n 's/^setenv serverip "\(.*\)"$/\1/p' "$ini")
  rm -rf "$dir" && mkdir -p "$dir"
  file=
  while read -r line; do
    case $line in
      "tftp "*)
        file=$(echo "$line" | awk '{print $3}')
        if ! ip netns exec "$LAB_NETNS" tftp -m binary "$server" -c get "$file" "$dir/fetched" 2>> "$NODE_DIR/supervisor.log" ||
          [ ! -s "$dir/fetched" ]; then
          log "TFTP: could not fetch $file from $server"
          return 1
        fi
        mv "$dir/fetched" "$dir/$(echo "$file" | tr / _)"
        log "TFTP: fetched $file from $server ($(stat -c %s "$dir/$(echo "$file" | tr / _)") bytes)"
        ;;
      "hash verify sha256 "*)
        want=$(echo "$line" | awk '{print $NF}')
        got=$(sha256sum "$dir/$(echo "$file" | tr / _)" | cut -d' ' -f1)
        if [ "$want" != "$got" ]; then
          log "TFTP: checksum mismatch for $file from $server: want $want, got $got"
          return 1
        fi
        ;;
    esac
  done < "$ini"
  echo tftp
}

# Wipes the node's own layer and lays its seed again: the board as it left the factory, with a new
# host key as a fresh image makes on first boot (kept for later `lab reset`s).
reimage() {
  local key=$NODE_DIR/seed/etc/ssh/ssh_host_ed25519_key
  rm -f "$key" "$key.pub" &&
    ssh-keygen -q -t ed25519 -N '' -C "root@$NODE" -f "$key" &&
    cp -p "$key" "$key.pub" "$NODE_DIR/" &&
    umount "$ROOT" &&
    rm -rf "$NODE_DIR/upper" "$NODE_DIR/work" "$NODE_DIR/data" &&
    mkdir -p "$NODE_DIR/upper" "$NODE_DIR/work" "$NODE_DIR/data" &&
    cp -a "$NODE_DIR/seed/." "$NODE_DIR/upper/" &&
    mount -t overlay "pt-$LAB-$NODE" \
      -o "lowerdir=$IMAGE_ROOT,upperdir=$NODE_DIR/upper,workdir=$NODE_DIR/work" "$ROOT"
}

stopping=0
child=
trap 'stopping=1; [ -n "$child" ] && kill -TERM "$child" 2>/dev/null' TERM INT

while :; do
  bootini="$ROOT/media/boot/boot.ini"
  if ! head -n 1 "$bootini" 2>/dev/null | grep -q '^ODROIDC2-UBOOT-CONFIG'; then
    log "boot.ini missing or without its ODROIDC2-UBOOT-CONFIG header: the board halts in u-boot"
    echo halted > "$NODE_DIR/power"
    exit 0
  fi
  if grep -q '^mmc write' "$bootini"; then
    if fetch_tftp "$bootini" > /dev/null; then
      log "re-imaging: every part fetched and verified; writing the factory image"
      if ! reimage 2>> "$NODE_DIR/supervisor.log"; then
        log "re-imaging failed on the lab's side (see above)"
        echo off > "$NODE_DIR/power"
        exit 1
      fi
    else
      log "re-imaging failed: booting the old system"
      tail -n 2 "$NODE_DIR/supervisor.log" | head -n 1 | cut -d' ' -f2- > "$ROOT/media/boot/picotrader-reimage.failed"
      cp "$ROOT/media/boot/boot.ini.emmc" "$bootini" && rm -f "$ROOT/media/boot/boot.ini.emmc"
    fi
    continue
  fi
  if ! boot_mode=$(fetch_tftp "$bootini"); then
    log "the board halts in u-boot: the TFTP boot failed"
    echo halted > "$NODE_DIR/power"
    exit 0
  fi
  if ! plug_network 2>> "$NODE_DIR/supervisor.log"; then
    log "could not set up the network namespace $NETNS"
    echo off > "$NODE_DIR/power"
    exit 1
  fi
  # An emulated node (arm64 under qemu-user) runs iptables natively: qemu-user cannot translate
  # netfilter's netlink. The same release's amd64 build, from the amd64 image, read-only.
  native=()
  if [ -n "${NATIVE_ROOT:-}" ]; then
    native=(--bind-ro="$NATIVE_ROOT/usr/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu"
      --bind-ro="$NATIVE_ROOT/usr/lib64:/lib64"
      --bind-ro="$NATIVE_ROOT/usr/sbin/xtables-nft-multi:/usr/sbin/xtables-nft-multi")
  fi
  log "booting: $(grep -m1 '^setenv bootlabel' "$bootini" | cut -d'"' -f2)"
  echo on > "$NODE_DIR/power"
  (
    for h in systemd unified memory cpu; do echo "$BASHPID" > "/sys/fs/cgroup/$h/$CGROUP/cgroup.procs"; done
    export SYSTEMD_NSPAWN_API_VFS_WRITABLE=network SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1
    exec systemd-nspawn --quiet --boot --setenv=PICOTRADER_LAB_BOOT="${boot_mode:-emmc}" --register=no --keep-unit --machine="$MACHINE" \
      --directory="$ROOT" --network-namespace-path="/run/netns/$NETNS" \
      --capability=CAP_NET_ADMIN,CAP_SYS_ADMIN,CAP_NET_RAW --system-call-filter='@keyring bpf' \
      --resolv-conf=off --timezone=off --link-journal=no --console=passive \
      --bind-ro="$REPO:/srv/picotrader-repo" --bind="$NODE_DIR/data:/data" --bind=/dev/fuse \
      --bind-ro="$PICOTRADER:/opt/picotrader" --bind-ro="$NODE_BIN:/usr/local/bin/node" \
      "${native[@]}"
  ) >> "$NODE_DIR/console.log" 2>&1 < /dev/null &
  child=$!
  echo "$child" > "$NODE_DIR/nspawn.pid"
  rc=
  while [ -z "$rc" ]; do
    wait "$child"; rc=$?
    # A trapped signal interrupts wait with a status above 128 while the child still runs.
    if kill -0 "$child" 2>/dev/null; then rc=; fi
  done
  child=
  rm -f "$NODE_DIR/nspawn.pid"
  log "node exited with status $rc"
  if [ "$rc" -ne 133 ] || [ "$stopping" -eq 1 ]; then
    echo off > "$NODE_DIR/power"
    exit 0
  fi
  log "reboot requested"
done
