#!/usr/bin/env bash
# Google's Cloud Firestore emulator for the tests, on 127.0.0.1 only.
#
#   scripts/firestore-emulator.sh start   start it on a free port (or reuse the running one)
#                                         and print FIRESTORE_EMULATOR_HOST=127.0.0.1:<port>
#   scripts/firestore-emulator.sh env     print that line for the running emulator
#   scripts/firestore-emulator.sh stop    stop it (by the pid recorded at start)
#
# The jar comes from the Debian package google-cloud-cli-firestore-emulator
# (override with FIRESTORE_EMULATOR_JAR). Pid, port and log live in
# FIRESTORE_EMULATOR_STATE_DIR (default target/firestore-emulator).
# Progress goes to stderr; only the FIRESTORE_EMULATOR_HOST line goes to stdout.
set -euo pipefail
cd "$(dirname "$0")/.."

state_dir=${FIRESTORE_EMULATOR_STATE_DIR:-target/firestore-emulator}
start_timeout=${FIRESTORE_EMULATOR_START_TIMEOUT:-30}
pid_file=$state_dir/pid
port_file=$state_dir/port
log_file=$state_dir/emulator.log
ready_line="Dev App Server is now running"

say() { echo "firestore-emulator: $*" >&2; }

find_jar() {
    if [[ -n ${FIRESTORE_EMULATOR_JAR:-} ]]; then
        [[ -f $FIRESTORE_EMULATOR_JAR ]] || { say "FIRESTORE_EMULATOR_JAR=$FIRESTORE_EMULATOR_JAR does not exist"; return 1; }
        echo "$FIRESTORE_EMULATOR_JAR"
        return 0
    fi
    local jar
    jar=$(dpkg -L google-cloud-cli-firestore-emulator 2>/dev/null | grep '/cloud-firestore-emulator\.jar$' | head -n 1 || true)
    if [[ -z $jar || ! -f $jar ]]; then
        say "cloud-firestore-emulator.jar not found: install the Debian package google-cloud-cli-firestore-emulator (apt-get install google-cloud-cli-firestore-emulator) or set FIRESTORE_EMULATOR_JAR to the jar"
        return 1
    fi
    echo "$jar"
}

running_pid() {
    [[ -f $pid_file ]] || return 1
    local pid
    pid=$(<"$pid_file")
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

port_is_free() {
    # A refused connection means nobody listens there.
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

free_port() {
    local port
    for _ in $(seq 1 50); do
        port=$((20000 + RANDOM % 40000))
        if port_is_free "$port"; then
            echo "$port"
            return 0
        fi
    done
    say "no free TCP port found on 127.0.0.1"
    return 1
}

print_env() {
    echo "FIRESTORE_EMULATOR_HOST=127.0.0.1:$(<"$port_file")"
}

stop() {
    local pid
    if pid=$(running_pid); then
        kill "$pid" 2>/dev/null || true
        # The JVM exits within a second or two on TERM; KILL it if it does not.
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        if kill -0 "$pid" 2>/dev/null; then
            kill -9 "$pid" 2>/dev/null || true
        fi
        say "stopped (pid $pid)"
    fi
    rm -f "$pid_file" "$port_file"
}

# One attempt on one port: 0 when ready, 1 when the emulator died or timed out.
launch() {
    local jar=$1 port=$2 pid
    : >"$log_file"
    nohup java -cp "$jar" com.google.cloud.datastore.emulator.firestore.CloudFirestore start \
        --host=127.0.0.1 --port="$port" >"$log_file" 2>&1 &
    pid=$!
    echo "$pid" >"$pid_file"
    echo "$port" >"$port_file"
    local started=$SECONDS
    while ((SECONDS - started < start_timeout)); do
        if grep -q "$ready_line" "$log_file" 2>/dev/null; then
            say "ready on 127.0.0.1:$port (pid $pid) after $((SECONDS - started)) s"
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            say "exited before it was ready; last lines of $log_file:"
            tail -n 20 "$log_file" >&2 || true
            rm -f "$pid_file" "$port_file"
            return 1
        fi
        sleep 0.2
    done
    say "not ready after ${start_timeout} s (FIRESTORE_EMULATOR_START_TIMEOUT); last lines of $log_file:"
    tail -n 20 "$log_file" >&2 || true
    stop
    return 1
}

start() {
    if running_pid >/dev/null; then
        say "already running"
        print_env
        return 0
    fi
    local jar
    jar=$(find_jar) || return 1
    command -v java >/dev/null || { say "java not found on PATH (the emulator needs Java 11 or later)"; return 1; }
    mkdir -p "$state_dir"
    # A port found free can be taken before the JVM binds it: try a few.
    for _ in 1 2 3; do
        local port
        port=$(free_port) || return 1
        if launch "$jar" "$port"; then
            print_env
            return 0
        fi
    done
    say "could not start; see $log_file"
    return 1
}

case ${1:-} in
start) start ;;
stop) stop ;;
env)
    if running_pid >/dev/null; then
        print_env
    else
        say "not running (start it with: scripts/firestore-emulator.sh start)"
        exit 1
    fi
    ;;
*)
    echo "usage: $0 start|stop|env" >&2
    exit 2
    ;;
esac
