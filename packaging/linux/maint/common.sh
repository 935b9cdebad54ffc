# Functions of the maintainer scripts of vigil-agent and vigil-collector, .deb
# (packaging/debian/*/) and .rpm (packaging/rpm/). cmake/VigilPackaging.cmake replaces a
# script's line "#VIGIL_INCLUDE <file>#" by packaging/linux/maint/<file>, so each installed
# script stands alone. This file (vigil_say, vigil_warn; VIGIL_PACKAGE names the package)
# comes first.
#
# Contract of every file here: POSIX sh, callable under "set -e"; no function needs a
# running systemd (a debootstrap chroot or a container image build has none); each one is
# idempotent; none touches a conffile (/etc/vigil/*.conf, *.properties: Debian policy
# 10.7.3). RPM reads scriptlets through its macro expander, so no file here may contain a
# percent sign.

vigil_say() {
    echo "$VIGIL_PACKAGE: $*"
}

vigil_warn() {
    echo "$VIGIL_PACKAGE: warning: $*" >&2
}

