#!/usr/bin/env bash
# slurm-local.sh — a single-node Slurm "cluster" on this machine, for the workflow's tests.
# Measured on the machine kind it was written for: Debian 12, root, no systemd; 3-25 s to start.
#
#   slurm-local.sh start    install (if needed) + configure + start daemons; idempotent
#   slurm-local.sh stop     stop all daemons this script starts
#   slurm-local.sh status   show daemons / sinfo
#
# Needs root, Debian 12 (bookworm) packages, no systemd.
# Env knobs:
#   SLURM_LOCAL_ACCOUNTING=dbd|none   dbd (default): MariaDB + slurmdbd, so `sacct` works.
#                                      none: no DB; `sacct` fails, use the plugin's
#                                      `--slurm-status-command squeue` instead.
#   SLURM_LOCAL_FAKE_GPUS=N            fake GPUs (GRES gpu:fake:N) on the node, 0 = none (default 2)
#   SLURM_LOCAL_PARTITION=name         partition name (default: debug)
#   SLURM_LOCAL_ACCOUNT=name           account created for root in slurmdbd (default: testacct)
set -euo pipefail
# the daemons live in /usr/sbin, which a minimal PATH (env -i, cron, some CI runners) lacks
export PATH="$PATH:/usr/sbin:/sbin"

ACCOUNTING="${SLURM_LOCAL_ACCOUNTING:-dbd}"
FAKE_GPUS="${SLURM_LOCAL_FAKE_GPUS:-2}"
PARTITION="${SLURM_LOCAL_PARTITION:-debug}"
ACCOUNT="${SLURM_LOCAL_ACCOUNT:-testacct}"
CLUSTER=localcluster
ETC=/etc/slurm
STATE=/var/lib/slurm-local          # state save dir, spool dir, fake GPU device nodes
LOG=/var/log/slurm
RUN=/run/slurm
DB_PASS=slurmlocal

log() { echo "[slurm-local] $*" >&2; }

wait_for() { # wait_for <seconds> <command...>
  local t=$(( $1 * 10 )); shift
  for _ in $(seq 1 "$t"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}

# pid_alive <pidfile>: the pid in it is alive and is the daemon the file is named after
pid_alive() {
  [ -s "$1" ] || return 1
  local pid; pid=$(cat "$1")
  [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = "$(basename "$1" .pid)" ]
}

install_packages() {
  local pkgs=(slurm-wlm slurm-client munge)
  # MariaDB's server and client binaries only: the full mariadb-server package's Perl
  # tools (libdbi-perl) can force an upgrade of the host's perl, and slurmdbd needs none
  [ "$ACCOUNTING" = dbd ] && pkgs+=(slurmdbd mariadb-server-core mariadb-client-core)
  # only the missing ones, nothing upgraded that need not be (tests/apt-install.sh)
  bash "$(dirname "${BASH_SOURCE[0]}")/../apt-install.sh" "${pkgs[@]}"
}

# write_if_changed <path> <mode> ; content on stdin; returns 0 if the file changed
write_if_changed() {
  local tmp; tmp=$(mktemp)
  cat > "$tmp"
  if [ -f "$1" ] && cmp -s "$tmp" "$1"; then rm -f "$tmp"; return 1; fi
  install -m "$2" "$tmp" "$1"; rm -f "$tmp"; return 0
}

start_munge() {
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge
  chmod 0755 /run/munge
  if [ ! -s /etc/munge/munge.key ]; then
    mungekey --create --keyfile=/etc/munge/munge.key 2>/dev/null \
      || dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
    chown munge:munge /etc/munge/munge.key; chmod 0400 /etc/munge/munge.key
  fi
  if ! (munge -n | unmunge) >/dev/null 2>&1; then
    log "starting munged"
    su -s /bin/sh munge -c '/usr/sbin/munged --force'
    wait_for 10 sh -c 'munge -n | unmunge'
  fi
}

# mariadb_up: the server answers its local socket (as root, by unix_socket)
mariadb_up() { mariadb -e 'SELECT 1' >/dev/null 2>&1; }

# The database runs as root (its own data folder, 127.0.0.1 only): the core packages
# create no system user for it.
start_mariadb() {
  mkdir -p /run/mysqld
  if [ ! -d /var/lib/mysql/mysql ]; then
    mariadb-install-db --user=root --datadir=/var/lib/mysql >/dev/null
  fi
  if ! mariadb_up; then
    log "starting mariadbd"
    setsid /usr/sbin/mariadbd --user=root --datadir=/var/lib/mysql \
      --socket=/run/mysqld/mysqld.sock --bind-address=127.0.0.1 \
      --innodb-buffer-pool-size=256M --innodb-lock-wait-timeout=900 \
      --innodb-log-file-size=64M >>/var/log/mariadbd-slurm-local.log 2>&1 < /dev/null &
    wait_for 30 mariadb_up || { log "mariadbd did not start"; tail -20 /var/log/mariadbd-slurm-local.log >&2; exit 1; }
  fi
  mariadb -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
    CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '${DB_PASS}';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"
}

make_fake_gpus() {
  mkdir -p "$STATE/fakegpu"
  local i
  for i in $(seq 0 $((FAKE_GPUS - 1))); do
    [ -c "$STATE/fakegpu/gpu$i" ] && continue
    rm -f "$STATE/fakegpu/gpu$i"
    # slurmd wants character devices (regular files are refused and then no
    # CUDA_VISIBLE_DEVICES is set). A copy of /dev/null (c 1 3) is harmless.
    mknod -m 666 "$STATE/fakegpu/gpu$i" c 1 3 2>/dev/null || return 1
  done
}

write_configs() { # sets CHANGED_SLURM / CHANGED_DBD
  local node cpu_line mem gres_node="" gres_types="" acct_lines
  node=$(hostname -s)
  # "NodeName=vm CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=24105"
  cpu_line=$(slurmd -C | head -1 | sed -e 's/^NodeName=[^ ]* //' -e 's/ RealMemory=.*//')
  mem=$(slurmd -C | head -1 | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
  mem=$(( mem * 95 / 100 ))   # a bit under what slurmd sees, or the node goes to DRAIN
  mkdir -p "$ETC" "$STATE/ctld" "$STATE/d" "$LOG" "$RUN"

  local gres_files=""
  if [ "$FAKE_GPUS" -gt 0 ]; then
    if make_fake_gpus; then
      gres_files="$STATE/fakegpu/gpu[0-$((FAKE_GPUS - 1))]"
    else # no mknod allowed: use distinct existing char devices (max 4)
      [ "$FAKE_GPUS" -le 4 ] || { log "mknod failed; at most 4 fake GPUs"; exit 1; }
      gres_files=$(echo /dev/null /dev/zero /dev/full /dev/urandom | cut -d' ' -f1-"$FAKE_GPUS" | tr ' ' ',')
    fi
    gres_node=" Gres=gpu:fake:$FAKE_GPUS"
    gres_types="GresTypes=gpu"
  fi

  if [ "$ACCOUNTING" = dbd ]; then
    acct_lines="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=6819"
    # gres/gpu TRES needs slurmdbd (slurmctld is fatal otherwise)
    [ "$FAKE_GPUS" -gt 0 ] && acct_lines="$acct_lines
AccountingStorageTRES=gres/gpu"
  else
    acct_lines="AccountingStorageType=accounting_storage/none"
  fi

  CHANGED_SLURM=0; CHANGED_DBD=0
  write_if_changed "$ETC/slurm.conf" 0644 <<EOF && CHANGED_SLURM=1 || true
# generated by slurm-local.sh
ClusterName=$CLUSTER
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
ReturnToService=2
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MailProg=/bin/true
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
$acct_lines
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
JobCompType=jobcomp/filetxt
JobCompLoc=$LOG/jobcomp.log
MinJobAge=600
InactiveLimit=0
KillWait=5
Waittime=0
$gres_types
NodeName=$node NodeAddr=127.0.0.1 $cpu_line RealMemory=$mem$gres_node State=UNKNOWN
PartitionName=$PARTITION Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF

  if [ "$FAKE_GPUS" -gt 0 ]; then
    write_if_changed "$ETC/gres.conf" 0644 <<EOF && CHANGED_SLURM=1 || true
AutoDetect=off
NodeName=$node Name=gpu Type=fake File=$gres_files
EOF
  elif [ -f "$ETC/gres.conf" ]; then
    rm -f "$ETC/gres.conf"; CHANGED_SLURM=1
  fi

  if [ "$ACCOUNTING" = dbd ]; then
    write_if_changed "$ETC/slurmdbd.conf" 0600 <<EOF && CHANGED_DBD=1 || true
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=6819
SlurmUser=root
DebugLevel=info
LogFile=$LOG/slurmdbd.log
PidFile=$RUN/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=$DB_PASS
StorageLoc=slurm_acct_db
EOF
  fi
}

stop_slurm_daemons() {
  if pid_alive "$RUN/slurmctld.pid"; then scontrol shutdown >/dev/null 2>&1 || true; fi
  local f
  for f in slurmctld slurmd; do
    if pid_alive "$RUN/$f.pid"; then
      wait_for 15 sh -c "! kill -0 $(cat "$RUN/$f.pid") 2>/dev/null" || kill "$(cat "$RUN/$f.pid")" 2>/dev/null || true
    fi
  done
}

start() {
  [ "$(id -u)" = 0 ] || { log "must run as root"; exit 1; }
  local t0=$SECONDS
  install_packages
  write_configs
  start_munge
  if [ "$CHANGED_SLURM" = 1 ] || [ "$CHANGED_DBD" = 1 ]; then stop_slurm_daemons; fi
  if [ "$ACCOUNTING" = dbd ]; then
    start_mariadb
    if [ "$CHANGED_DBD" = 1 ] && pid_alive "$RUN/slurmdbd.pid"; then kill "$(cat "$RUN/slurmdbd.pid")"; sleep 1; fi
    if ! pid_alive "$RUN/slurmdbd.pid"; then log "starting slurmdbd"; slurmdbd; fi
    wait_for 30 sacctmgr -n list cluster || { log "slurmdbd not answering"; tail -20 "$LOG/slurmdbd.log" >&2; exit 1; }
    sacctmgr -i add cluster "$CLUSTER" >/dev/null 2>&1 || true
  fi
  if ! pid_alive "$RUN/slurmctld.pid"; then log "starting slurmctld"; slurmctld -i; fi
  if ! pid_alive "$RUN/slurmd.pid"; then log "starting slurmd"; slurmd -N "$(hostname -s)"; fi
  local node; node=$(hostname -s)
  if ! wait_for 30 sh -c "sinfo -h -n $node -o %T | grep -Eq '^(idle|mixed|allocated)'"; then
    scontrol update NodeName="$node" State=RESUME >/dev/null 2>&1 || true
    wait_for 15 sh -c "sinfo -h -n $node -o %T | grep -Eq '^(idle|mixed|allocated)'" \
      || { log "node not ready"; sinfo -R >&2; tail -20 "$LOG/slurmctld.log" "$LOG/slurmd.log" >&2; exit 1; }
  fi
  if [ "$ACCOUNTING" = dbd ]; then
    sacctmgr -i add account "$ACCOUNT" Description=tests Organization=tests >/dev/null 2>&1 || true
    sacctmgr -i add user root Account="$ACCOUNT" >/dev/null 2>&1 || true
    probe_accounting
  fi
  log "up in $((SECONDS - t0))s: partition=$PARTITION accounting=$ACCOUNTING fake_gpus=$FAKE_GPUS"
}

# One tiny job through the whole path Snakemake's Slurm plugin relies on: scheduled, run,
# and its end recorded by slurmdbd (the plugin polls sacct). On a freshly started cluster
# the first job records can be lost; a job sacct never reports stays "running" for the
# plugin, which then waits forever. Better to fail here, with the daemons' logs.
probe_accounting() {
  local jid
  jid=$(sbatch --parsable -p "$PARTITION" -A "$ACCOUNT" -t 1 --mem=10 -o /dev/null --wrap true) \
    || { log "sbatch failed"; exit 1; }
  if ! wait_for 60 sh -c "sacct -n -X -j $jid -o State | grep -q COMPLETED"; then
    log "probe job $jid not recorded as COMPLETED by sacct within 60 s"
    squeue >&2; sinfo -R >&2; sacct -X -j "$jid" >&2 || true
    tail -20 "$LOG/slurmctld.log" "$LOG/slurmdbd.log" >&2; exit 1
  fi
}

stop() {
  stop_slurm_daemons
  if pid_alive "$RUN/slurmdbd.pid"; then kill "$(cat "$RUN/slurmdbd.pid")" || true; fi
  if command -v mariadb >/dev/null && mariadb_up; then mariadb -e 'SHUTDOWN' || true; fi
  if [ -S /run/munge/munge.socket.2 ]; then /usr/sbin/munged --stop >/dev/null 2>&1 || true; fi
  log "stopped"
}

status() {
  local f
  for f in slurmctld slurmd slurmdbd; do
    if pid_alive "$RUN/$f.pid"; then echo "$f: running (pid $(cat "$RUN/$f.pid"))"; else echo "$f: stopped"; fi
  done
  (munge -n 2>/dev/null | unmunge >/dev/null 2>&1) && echo "munged: running" || echo "munged: stopped"
  (mariadb-admin ping >/dev/null 2>&1) && echo "mariadbd: running" || echo "mariadbd: stopped"
  sinfo -o "%P %a %D %T %N %G" 2>/dev/null || true
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
