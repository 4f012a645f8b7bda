#!/usr/bin/env bash
# Renders account.template.yaml for one Binance account: every Kubernetes
# object, the state document, the run lease and the heartbeat service name
# derived from ACCOUNT, the cycle at minute MINUTE of every hour (UTC).
#
#   deploy/kubernetes/new-account.sh ACCOUNT MINUTE [--live] > deploy/kubernetes/accounts/ACCOUNT.yaml
#
# ACCOUNT: lowercase letters, digits and hyphens, starting with a letter, at
# most 19 characters (the Google service account tradecycle-ACCOUNT has at
# most 30). MINUTE: 11-49 (never :00, never in Simple Earn's 23:50-00:10
# UTC maintenance window); give each account its own. --live: the cycle
# trades for real (`run --live`); without it, dry runs only.
set -euo pipefail
account=${1:-}
minute=${2:-}
live=${3:-}
if ! [[ $account =~ ^[a-z][a-z0-9-]{0,18}$ ]] || [[ $account == *- ]]; then
    echo "new-account.sh: ACCOUNT '$account': use 1-19 lowercase letters, digits and hyphens, starting with a letter, not ending with a hyphen" >&2
    exit 2
fi
if ! [[ $minute =~ ^[0-9]{2}$ ]] || ((10#$minute < 11 || 10#$minute > 49)); then
    echo "new-account.sh: MINUTE '$minute': use a minute between 11 and 49" >&2
    exit 2
fi
case $live in
"") args='["run"]' ;;
--live) args='["run", "--live"]' ;;
*)
    echo "new-account.sh: '$live': the third argument can only be --live" >&2
    exit 2
    ;;
esac
echo "# Rendered by: deploy/kubernetes/new-account.sh $account $minute${live:+ $live}"
echo "# Edit account.template.yaml and render again rather than editing this file."
echo
# The template's own header ends at its first blank line.
sed -e '1,/^$/d' -e "s/__ACCOUNT__/$account/g" -e "s/__MINUTE__/$minute/g" -e "s/__ARGS__/$args/" \
    "$(dirname "$0")/account.template.yaml"
