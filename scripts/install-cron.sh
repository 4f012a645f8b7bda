#!/usr/bin/env bash
# Installs the dispatch guard on a VPS: the env file that `tradecycle
# dispatch` reads (mode 600, replaced atomically, unrelated lines kept) and
# one crontab line that fires the cycle workflow every hour. Idempotent:
# running it again with the same settings changes nothing.
#
# The minute is chosen so the dispatch never fires at :00 nor inside Binance
# Simple Earn's daily maintenance window (23:50-00:10 UTC): an hourly job at
# UTC minute 11..49 cannot. Cron runs in the machine's local time zone, so
# the UTC minute is converted with the zone's offset (half-hour zones too).
set -euo pipefail

prog=install-cron.sh

usage() {
    cat <<'EOF'
Usage: scripts/install-cron.sh [--binary PATH] [--env-file PATH] [--minute M] [--log FILE] [--live | --no-live]

Writes the dispatch settings from this script's environment into the env file
and installs an hourly crontab entry running `tradecycle dispatch`.

Settings taken from the environment when set (others already in the file stay):
  GITHUB_TOKEN REPO WORKFLOW REF            required (here or already in the file)
  VALIDATE_ONLY LIVE                        workflow inputs
  DISPATCH_MAX_ATTEMPTS DISPATCH_RETRY_BASE_SECONDS GITHUB_API_URL
  TG_TOKEN GLOBAL_TELEGRAM_CHAT_ID TELEGRAM_API_URL NOTIFY_LANG   failure alert

Options:
  --binary PATH    tradecycle binary (default: `command -v tradecycle`)
  --env-file PATH  default: ~/.config/tradecycle/dispatch.env
  --minute M       UTC minute to fire at, 11..49 (default: derived from REPO,
                   so several accounts spread over the hour)
  --log FILE       where cron appends the output (default: ~/.local/state/tradecycle/dispatch.log)
  --live           the crontab line runs `tradecycle dispatch --live` (live cycles)
  --no-live        drop --live from the crontab line
                   (neither: an existing line's --live is kept, so a re-run never
                   turns live trading off behind the operator's back)

Values are never printed. Exit codes: 0 done, 2 bad option or settings.
EOF
}

die() {
    echo "$prog: $*" >&2
    exit 2
}

binary=""
env_file="${HOME:?HOME is not set}/.config/tradecycle/dispatch.env"
minute=""
log_file="$HOME/.local/state/tradecycle/dispatch.log"
live=""
while [ $# -gt 0 ]; do
    case "$1" in
        --binary) binary="${2:?--binary needs a path}"; shift 2 ;;
        --env-file) env_file="${2:?--env-file needs a path}"; shift 2 ;;
        --minute) minute="${2:?--minute needs a number}"; shift 2 ;;
        --log) log_file="${2:?--log needs a path}"; shift 2 ;;
        --live) live=on; shift ;;
        --no-live) live=off; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
done

if [ -z "$binary" ]; then
    binary="$(command -v tradecycle || true)"
    [ -n "$binary" ] || die "tradecycle is not on PATH: pass --binary /path/to/tradecycle"
fi
case "$binary" in /*) ;; *) binary="$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary")" ;; esac
[ -x "$binary" ] || die "--binary $binary is not an executable file"
case "$env_file" in /*) ;; *) env_file="$(pwd)/$env_file" ;; esac
case "$log_file" in /*) ;; *) log_file="$(pwd)/$log_file" ;; esac
# Paths go into a crontab line inside single quotes; cron treats % as a newline.
for p in "$binary" "$env_file" "$log_file"; do
    case "$p" in *"'"* | *"%"* | *[[:space:]]*) die "path must not contain quotes, % or spaces: $p" ;; esac
done
if [ -n "$minute" ]; then
    case "$minute" in '' | *[!0-9]*) die "--minute: expected a whole number from 11 to 49, got '$minute'" ;; esac
    minute=$((10#$minute))
    if [ "$minute" -lt 11 ] || [ "$minute" -gt 49 ]; then
        die "--minute: must be between 11 and 49 (UTC) to avoid :00 and Simple Earn's 23:50-00:10 UTC maintenance window, got $minute"
    fi
fi

# ---- the env file ----------------------------------------------------------

keys="GITHUB_TOKEN REPO WORKFLOW REF VALIDATE_ONLY LIVE DISPATCH_MAX_ATTEMPTS DISPATCH_RETRY_BASE_SECONDS GITHUB_API_URL TG_TOKEN GLOBAL_TELEGRAM_CHAT_ID TELEGRAM_API_URL NOTIFY_LANG"
set_keys=""
for k in $keys; do
    v="${!k-}"
    [ -n "$v" ] || continue
    case "$v" in *"'"* | *$'\n'*) die "$k: the value must not contain a single quote or a newline (value not shown)" ;; esac
    set_keys="$set_keys $k"
done

env_dir="$(dirname "$env_file")"
if [ ! -d "$env_dir" ]; then
    mkdir -p "$env_dir"
    chmod 700 "$env_dir"
fi
tmp="$(mktemp "$env_dir/.dispatch.env.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
chmod 600 "$tmp"

existing="$env_file"
if [ ! -f "$env_file" ]; then
    existing=/dev/null
    printf '%s\n' "# tradecycle dispatch settings: read by \`tradecycle dispatch\`, written by scripts/install-cron.sh" >"$tmp"
fi
# Each key set here replaces its first line in place (an `export ` prefix and
# indentation are recognised) and drops later duplicates; keys not yet in the
# file are appended in a fixed order. Values come through ENVIRON, so awk
# never interprets them.
SET_KEYS="$set_keys" awk '
    BEGIN { n = split(ENVIRON["SET_KEYS"], order, " "); for (i = 1; i <= n; i++) wanted[order[i]] = 1 }
    {
        line = $0
        sub(/^[ \t]*(export[ \t]+)?/, "", line)
        key = line
        sub(/[ \t]*=.*$/, "", key)
        if (line ~ /^[A-Za-z_][A-Za-z0-9_]*[ \t]*=/ && (key in wanted)) {
            if (!(key in done)) { print "export " key "='\''" ENVIRON[key] "'\''"; done[key] = 1 }
            next
        }
        print
    }
    END { for (i = 1; i <= n; i++) if (!(order[i] in done)) print "export " order[i] "='\''" ENVIRON[order[i]] "'\''" }
' "$existing" >>"$tmp"

# The binary itself validates the result before it replaces anything: with
# a bare environment, since dispatch lets process variables override the
# file and only the file is what cron will have.
if ! check="$(env -i PATH="$PATH" HOME="$HOME" "$binary" dispatch --env-file "$tmp" --check 2>&1)"; then
    echo "$prog: the settings do not validate (nothing changed):" >&2
    printf '%s\n' "$check" | sed "s|$tmp|$env_file|g; s|^|  |" >&2
    exit 2
fi

if [ -f "$env_file" ] && cmp -s "$tmp" "$env_file"; then
    rm -f "$tmp"
    mode="$(stat -c %a "$env_file" 2>/dev/null || echo 600)"
    if [ "$mode" != 600 ]; then
        chmod 600 "$env_file"
        echo "env file $env_file: unchanged, mode fixed to 600 (was $mode)"
    else
        echo "env file $env_file: unchanged"
    fi
else
    verb=updated
    [ -f "$env_file" ] || verb=created
    mv -f "$tmp" "$env_file"
    echo "env file $env_file: $verb (mode 600; set from the environment:${set_keys:- nothing})"
fi
trap - EXIT
printf '%s\n' "$check" | grep -v '^env file: ' | sed 's/^/  /'

# ---- the crontab line -------------------------------------------------------

repo="$(printf '%s\n' "$check" | sed -n 's/^repo: //p')"
if [ -z "$minute" ]; then
    # Stable per repository, spread over 11..49.
    sum="$(printf '%s' "$repo" | cksum | cut -d' ' -f1)"
    minute=$((11 + sum % 39))
fi
# Local offset from UTC in minutes (date +%z: +hhmm / -hhmm).
z="$(date +%z)"
sign="${z:0:1}"
offset=$((10#${z:1:2} * 60 + 10#${z:3:2}))
[ "$sign" = "-" ] && offset=$((-offset))
local_minute=$(((minute + offset % 60 + 60) % 60))

mkdir -p "$(dirname "$log_file")"
marker="# tradecycle-dispatch env=$env_file"

if current="$(crontab -l 2>&1)"; then
    :
elif printf '%s' "$current" | grep -qi 'no crontab'; then
    current=""
else
    die "cannot read the current crontab: $current"
fi
# Without --live / --no-live, our existing line's --live (added by an
# operator or an earlier --live) is kept. Paths hold no spaces, so " --live "
# can only be the flag.
if [ -z "$live" ]; then
    old_entry="$(MARKER="$marker" awk '{ l = length(ENVIRON["MARKER"]); if (length($0) >= l && substr($0, length($0) - l + 1) == ENVIRON["MARKER"]) print }' <<<"$current")"
    case " $old_entry " in
        *" --live "*) live=on; echo "crontab: keeping --live from the existing line (pass --no-live to drop it)" ;;
    esac
fi
dispatch_args="dispatch --env-file '$env_file'"
[ "$live" = on ] && dispatch_args="$dispatch_args --live"
entry="$local_minute * * * * '$binary' $dispatch_args >> '$log_file' 2>&1 $marker"
# Replace our line in place (matched by its marker), or append it.
if [ -z "$current" ]; then
    new="$entry"
else
    new="$(MARKER="$marker" ENTRY="$entry" awk '
        BEGIN { m = ENVIRON["MARKER"]; e = ENVIRON["ENTRY"] }
        { l = length(m); if (length($0) >= l && substr($0, length($0) - l + 1) == m) { if (!done) print e; done = 1; next } print }
        END { if (!done) print e }
    ' <<<"$current")"
fi
if [ -n "$current" ] && [ "$new" = "$current" ]; then
    echo "crontab: unchanged: $entry"
else
    printf '%s\n' "$new" | crontab -
    if printf '%s' "$current" | grep -qF "$marker"; then
        echo "crontab: updated: $entry"
    else
        echo "crontab: installed: $entry"
    fi
fi
echo "fires hourly at minute $minute UTC (local minute $local_minute, UTC offset $z); log: $log_file"
