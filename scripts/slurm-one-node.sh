#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for the SLURM tests and to try `tui-cnn train --slurm`:
# this host is the controller and the only node, with all its CPUs. Needs root; installs
# slurm-wlm and munge from apt when they are missing. Idempotent: a cluster already up is left
# as it is. `scripts/slurm-one-node.sh stop` ends the daemons.
#
# Debian's slurm-wlm (22.05 on bookworm). What a cluster this small needs: select/cons_tres,
# proctrack/linuxproc and task/none (no cgroups in a container), state and spool folders it can
# write, a munge key, and munged, slurmctld and slurmd started as root.
set -euo pipefail

conf_dir=/etc/slurm
state=/var/spool/slurmctld
spool=/var/spool/slurmd
log_dir=/var/log/slurm

if [ "${1:-}" = stop ]; then
    pkill -x slurmd 2>/dev/null || true
    pkill -x slurmctld 2>/dev/null || true
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    echo "slurm-one-node: needs root (it starts munged, slurmctld and slurmd)" >&2
    exit 2
fi

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        slurm-wlm munge; } >/dev/null
fi

host=$(hostname -s)
cpus=$(nproc)
memory_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))

mkdir -p "$conf_dir" "$state" "$spool" "$log_dir" /run/munge /var/lib/munge /var/log/munge
if [ ! -s /etc/munge/munge.key ]; then
    mkdir -p /etc/munge
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
fi
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
chmod 0700 /etc/munge && chmod 0400 /etc/munge/munge.key

cat > "$conf_dir/slurm.conf" <<CONF
# Written by tui-cnn's scripts/slurm-one-node.sh: one machine, controller and node.
ClusterName=tuicnn
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$state
SlurmdSpoolDir=$spool
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$log_dir/slurmctld.log
SlurmdLogFile=$log_dir/slurmd.log
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=300
KillWait=5
Waittime=0
NodeName=$host CPUs=$cpus RealMemory=$memory_mb State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF

pgrep -x munged >/dev/null || su -s /bin/sh munge -c munged 2>/dev/null || munged --force
pgrep -x slurmctld >/dev/null || slurmctld
pgrep -x slurmd >/dev/null || slurmd

for _ in $(seq 1 60); do
    if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
        sinfo
        exit 0
    fi
    scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true
    sleep 1
done
echo "slurm-one-node: the node did not become idle within 60 s; see $log_dir/slurmctld.log and slurmd.log" >&2
sinfo >&2 || true
exit 1
