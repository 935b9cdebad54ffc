# vigil-agent's silent enrollment at installation (after common.sh).

VIGIL_AGENT_STATE=/var/lib/vigil/agent
VIGIL_AGENT_DEFAULTS=/etc/default/vigil-agent
VIGIL_AGENT_PRESEED=/etc/vigil/enroll.env

# vigil_env_value KEY FILE: prints the last value of KEY=VALUE (or "export KEY=VALUE") in
# FILE, without surrounding quotes; nothing if absent. The file is parsed, never sourced:
# it may come from anyone who could write to /etc, but it must not run code as root.
vigil_env_value() {
    [ -r "$2" ] || return 0
    vigil_export='\(export[[:space:]]\{1,\}\)\{0,1\}'
    sed -n -e "s/^[[:space:]]*$vigil_export$1[[:space:]]*=[[:space:]]*//p" "$2" \
        | tail -n 1 | tr -d '\r' \
        | sed -e 's/[[:space:]]*$//' -e 's/^"\(.*\)"$/\1/' -e "s/^'\(.*\)'$/\1/"
}

# vigil_agent_save_pending URL TOKEN: stores both in /etc/default/vigil-agent (root, 0600),
# which the unit reads (EnvironmentFile=), so the service enrolls as soon as the collector
# answers. Other lines of that file (an admin's VIGIL_PROXY, ...) are kept. Values are
# written unquoted, so they must hold no quote, backslash or white space.
vigil_agent_save_pending() {
    case "$1$2" in
        *[\'\"\\[:space:]]*)
            vigil_warn "the server URL or token contains a quote, a backslash or white space;" \
                "not saved to $VIGIL_AGENT_DEFAULTS"
            return 1
            ;;
    esac
    (
        umask 077
        if [ -f "$VIGIL_AGENT_DEFAULTS" ]; then
            grep -v -e '^[[:space:]]*\(export[[:space:]]\{1,\}\)\{0,1\}VIGIL_SERVER_URL=' \
                -e '^[[:space:]]*\(export[[:space:]]\{1,\}\)\{0,1\}VIGIL_ENROLL_TOKEN=' \
                -e '^# vigil-agent package: ' "$VIGIL_AGENT_DEFAULTS" || true
        fi
        echo "# vigil-agent package: the collector was unreachable at installation; the"
        echo "# vigil-agent package: service enrolls with these. Remove both once enrolled."
        echo "VIGIL_SERVER_URL=$1"
        echo "VIGIL_ENROLL_TOKEN=$2"
    ) >"$VIGIL_AGENT_DEFAULTS.pkg-tmp"
    chown root:root "$VIGIL_AGENT_DEFAULTS.pkg-tmp"
    chmod 0600 "$VIGIL_AGENT_DEFAULTS.pkg-tmp"
    mv -f "$VIGIL_AGENT_DEFAULTS.pkg-tmp" "$VIGIL_AGENT_DEFAULTS"
}

# vigil_agent_enroll: silent enrollment at installation. Only while the agent has no
# identity (an upgrade or a reinstall never enrolls again). URL and token come from the
# installer's environment (VIGIL_SERVER_URL, VIGIL_ENROLL_TOKEN), else from the preseed file
# /etc/vigil/enroll.env. Never fails: a bad token or an unreachable collector is a warning,
# not a failed installation.
vigil_agent_enroll() {
    if [ -e "$VIGIL_AGENT_STATE/identity.json" ]; then
        return 0
    fi
    vigil_url=${VIGIL_SERVER_URL:-}
    vigil_token=${VIGIL_ENROLL_TOKEN:-}
    if [ -z "$vigil_url" ]; then
        vigil_url=$(vigil_env_value VIGIL_SERVER_URL "$VIGIL_AGENT_PRESEED")
    fi
    if [ -z "$vigil_token" ]; then
        vigil_token=$(vigil_env_value VIGIL_ENROLL_TOKEN "$VIGIL_AGENT_PRESEED")
    fi
    if [ -z "$vigil_url" ] && [ -z "$vigil_token" ]; then
        vigil_say "not enrolled. Enroll with: vigil-agent enroll --server URL --token TOKEN;" \
            "then: systemctl restart vigil-agent"
        return 0
    fi
    if [ -z "$vigil_url" ] || [ -z "$vigil_token" ]; then
        vigil_warn "silent enrollment needs both VIGIL_SERVER_URL and VIGIL_ENROLL_TOKEN" \
            "(environment or $VIGIL_AGENT_PRESEED); not enrolled"
        return 0
    fi
    vigil_rc=0
    # The token goes through the environment, not the command line (which ps shows).
    VIGIL_ENROLL_TOKEN=$vigil_token vigil-agent enroll --server "$vigil_url" \
        --state-dir "$VIGIL_AGENT_STATE" || vigil_rc=$?
    case $vigil_rc in
        0)
            if [ -f "$VIGIL_AGENT_PRESEED" ]; then
                vigil_say "$VIGIL_AGENT_PRESEED is no longer needed and can be removed"
            fi
            ;;
        75)
            if vigil_agent_save_pending "$vigil_url" "$vigil_token"; then
                vigil_warn "collector $vigil_url unreachable; the service will enroll when" \
                    "it can reach it (URL and token saved in $VIGIL_AGENT_DEFAULTS)"
            fi
            ;;
        2)
            vigil_warn "enrollment with $vigil_url refused (bad token or URL, see above);" \
                "not enrolled. Fix it, then: vigil-agent enroll --server URL --token TOKEN"
            ;;
        *)
            vigil_warn "enrollment with $vigil_url failed (exit status $vigil_rc, see above);" \
                "not enrolled"
            ;;
    esac
    return 0
}

# vigil_agent_can_start: true when the service would not stop at once for want of an
# identity or a token (exit 78): enrolled, or a token is configured for it.
vigil_agent_can_start() {
    [ -e "$VIGIL_AGENT_STATE/identity.json" ] && return 0
    [ -n "$(vigil_env_value VIGIL_ENROLL_TOKEN "$VIGIL_AGENT_DEFAULTS")" ] && return 0
    grep -q '^[[:space:]]*enroll_token[[:space:]]*=[[:space:]]*[^[:space:]]' \
        /etc/vigil/agent.conf 2>/dev/null
}
