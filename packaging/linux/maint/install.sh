# Installation: the daemon's system user and its private directory (after common.sh).

# vigil_ensure_user NAME HOME COMMENT: the system group and user NAME (no login, HOME not
# created). systemd-sysusers from the package's sysusers.d file where it exists, else
# groupadd/useradd (passwd, present in a minimal Debian root and on RPM systems).
vigil_ensure_user() {
    if getent passwd "$1" >/dev/null 2>&1; then
        return 0
    fi
    if command -v systemd-sysusers >/dev/null 2>&1 && [ -f "/usr/lib/sysusers.d/$1.conf" ]; then
        systemd-sysusers "/usr/lib/sysusers.d/$1.conf" || true
    fi
    if ! getent group "$1" >/dev/null 2>&1; then
        groupadd --system "$1"
    fi
    if ! getent passwd "$1" >/dev/null 2>&1; then
        useradd --system --gid "$1" --home-dir "$2" --no-create-home \
            --shell /usr/sbin/nologin --comment "$3" "$1"
    fi
}

# vigil_private_dir DIR USER: DIR exists with mode 0700; a new one belongs to USER. An
# existing DIR owned by someone else (the daemon was run by hand as root) is left to
# systemd: StateDirectory= hands the whole tree to USER at the next start, without the
# hardlink risk of a "chown -R" by root. /var/lib/vigil itself stays root's, 0755.
vigil_private_dir() {
    if [ ! -d /var/lib/vigil ]; then
        mkdir -m 0755 /var/lib/vigil
    fi
    if [ ! -d "$1" ]; then
        mkdir -m 0700 "$1"
        chown "$2:$2" "$1"
    fi
    chmod 0700 "$1"
}
