# Unload under load, in cycles: insert the module, run marker traffic on
# several connections (vsock_seqpacket_perf; its receiver checks every
# record), try rmmod during the traffic (it must be refused and the traffic
# must go on undisturbed), kill a sender in the middle of its records, close
# a listener with connections still waiting to be accepted, then close
# everything: rmmod must then succeed. /init checks dmesg for splats.
# Parameter: vsq.cycles=N (default 10).

UNLOAD_PORT=7000
UNLOAD_STREAMS=3

# wait_for_line FILE TEXT SECONDS
wait_for_line() {
	i=0
	until grep -q "$2" "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt $(($3 * 10)) ] || return 1
		sleep 0.1
	done
}

unload_cycle() { # N
	n=$1
	insmod /lib/vsock_seqpacket.ko || { say "cycle $n: insmod failed"; return 1; }
	rpids= spids=
	for s in $(seq $UNLOAD_STREAMS) 4; do
		port=$((UNLOAD_PORT + 2 * s))
		vsock_seqpacket_perf receiver --port $port --once >/tmp/r$s.log 2>&1 &
		rpids="$rpids $!"
		wait_for_line /tmp/r$s.log listening 10 || { say "cycle $n: receiver $s not listening"; return 1; }
	done
	for s in $(seq $UNLOAD_STREAMS); do
		vsock_seqpacket_perf sender --cid 1 --port $((UNLOAD_PORT + 2 * s)) --type seqpacket \
			--size $((s * 20000)) --duration 2 --label cycle$n/$s >/tmp/s$s.log 2>&1 &
		spids="$spids $!"
	done
	# The victim of a kill: a sender of large records, killed mid-stream.
	vsock_seqpacket_perf sender --cid 1 --port $((UNLOAD_PORT + 8)) --type seqpacket \
		--size 200000 --duration 30 >/tmp/s4.log 2>&1 &
	killed=$!
	# A listener that never accepts its three connections, then closes.
	# Their stdin is a FIFO that this shell holds open: they wait until killed.
	[ -p /tmp/hold.fifo ] || mkfifo /tmp/hold.fifo
	exec 4<>/tmp/hold.fifo
	vsock_demo listen-pending 7100 </tmp/hold.fifo >/tmp/hold-server.log 2>&1 &
	listener=$!
	wait_for_line /tmp/hold-server.log listening 10 || { say "cycle $n: listener not listening"; return 1; }
	hpids=
	for h in 1 2 3; do
		vsock_demo hold-client 1 7100 </tmp/hold.fifo >/tmp/hold$h.log 2>&1 &
		hpids="$hpids $!"
	done
	for h in 1 2 3; do
		wait_for_line /tmp/hold$h.log connected 10 || { say "cycle $n: hold client $h did not connect"; return 1; }
	done
	if rmmod vsock_seqpacket 2>/tmp/rmmod.err; then
		say "cycle $n: FAIL: rmmod succeeded during marker traffic"
		return 1
	fi
	kill -9 $killed
	kill $listener
	wait $killed $listener 2>/dev/null
	ok=0
	for s in $(seq $UNLOAD_STREAMS); do
		pid=$(echo $spids | cut -d' ' -f$s)
		wait "$pid" || { say "cycle $n: FAIL: sender $s: $(cat /tmp/s$s.log)"; ok=1; }
		grep -q '^RESULT' /tmp/s$s.log || { say "cycle $n: FAIL: sender $s printed no result"; ok=1; }
	done
	kill $hpids
	wait $hpids 2>/dev/null
	exec 4>&-
	for p in $rpids; do
		i=0
		while kill -0 $p 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		kill $p 2>/dev/null
		wait $p 2>/dev/null
	done
	for s in $(seq $UNLOAD_STREAMS); do
		grep -qi 'damaged\|error' /tmp/r$s.log && { say "cycle $n: FAIL: receiver $s: $(cat /tmp/r$s.log)"; ok=1; }
	done
	rmmod_settled || { say "cycle $n: FAIL: rmmod refused after every connection closed"; ok=1; }
	[ $ok = 0 ] && say "cycle $n: rmmod refused during traffic ($(cat /tmp/rmmod.err | tr -d '\n')), $UNLOAD_STREAMS streams intact, killed sender and closed listener cleaned up, rmmod ok"
	return $ok
}

role_loopback() {
	rmmod_settled || return 1
	cycles=${VSQ_cycles:-10}
	c=1
	while [ $c -le "$cycles" ]; do
		unload_cycle $c || { insmod /lib/vsock_seqpacket.ko; return 1; }
		c=$((c + 1))
	done
	say "unload under load: $cycles cycles passed"
	insmod /lib/vsock_seqpacket.ko
}
