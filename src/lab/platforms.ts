// What lab nodes can be made of: Debian releases and CPU architectures. Apart from image.ts so that
// the command line can offer them as choices without loading how images are built.

/** The Debian releases the lab builds nodes of: bookworm (Debian 12), bullseye (Debian 11). */
export const RELEASES = ["bookworm", "bullseye"] as const;
export type Release = (typeof RELEASES)[number];

/** The CPU architectures of lab nodes: this machine's (amd64), or arm64 under qemu-user emulation. */
export const ARCHES = ["amd64", "arm64"] as const;
export type Arch = (typeof ARCHES)[number];
