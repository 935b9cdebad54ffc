# vigil-agent's retirement at removal (after common.sh).

VIGIL_AGENT_STATE=/var/lib/vigil/agent

# vigil_agent_retire: tells the collector the agent is being uninstalled (it records the
# agent retired: no offline alert follows) and deletes the identity. Call only once the
# service has stopped, and never during an upgrade. VIGIL_KEEP_ENROLLED=1 skips it (the
# identity stays, e.g. for a reinstall). Never fails: a removal must not be blocked by an
# unreachable collector.
vigil_agent_retire() {
    if [ "${VIGIL_KEEP_ENROLLED:-}" = 1 ]; then
        vigil_say "VIGIL_KEEP_ENROLLED=1: not retired; the identity stays in $VIGIL_AGENT_STATE"
        return 0
    fi
    if [ ! -e "$VIGIL_AGENT_STATE/identity.json" ]; then
        return 0
    fi
    if ! command -v vigil-agent >/dev/null 2>&1; then
        return 0
    fi
    vigil_rc=0
    vigil-agent retire --state-dir "$VIGIL_AGENT_STATE" || vigil_rc=$?
    case $vigil_rc in
        0) ;;
        75)
            vigil_warn "collector unreachable: the agent is NOT retired and will be reported" \
                "offline; retire it through the collector's API (see above)"
            ;;
        *)
            vigil_warn "retiring failed (exit status $vigil_rc, see above); retire the agent" \
                "through the collector's API"
            ;;
    esac
    return 0
}
