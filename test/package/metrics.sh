# test/package/metrics.sh - sourced by test/package/run once the package is
# installed: the documented textfile metrics work as installed. The shipped
# tmpfiles entry made /var/lib/portcullis/metrics (0755, others may pass
# through /var/lib/portcullis), the unit may write there (ReadWritePaths),
# and the installed daemon, started as the unit starts it (as root, it
# drops to portcullis; umask 0007), writes the file mode 0644, which
# another user (node_exporter's, prometheus) reads and promtool accepts.
# The same text is served at metrics_listen. Uses run's ok/bad/check,
# $work (with the test signatures in $work/sigs) and $top.

command -v wait_until >/dev/null 2>&1 || . "$top/test/lib.sh"
mdir=/var/lib/portcullis/metrics
mfile=$mdir/portcullis.prom
check "tmpfiles applied: $mdir portcullis:755" \
    sh -c "[ \"\$(stat -c %U:%a $mdir)\" = portcullis:755 ]"
check "tmpfiles applied: /var/lib/portcullis 711 (through, not listed)" \
    sh -c '[ "$(stat -c %a /var/lib/portcullis)" = 711 ]'
# The unit's ReadWritePaths= cover the metrics directory.
rw=$(sed -n 's/^ReadWritePaths=//p' /lib/systemd/system/portcullis.service |
    tr ' ' '\n' | sed 's/^-//')
covered=no
for p in $rw; do
	case $mdir/ in "${p%/}"/*) covered=yes ;; esac
done
if [ $covered = yes ]; then
	ok "portcullis.service may write $mdir (ReadWritePaths)"
else
	bad "portcullis.service: no ReadWritePaths= covers $mdir; got: $rw"
fi

# The daemon as the unit runs it, with the documented path.
reader=prometheus
id "$reader" >/dev/null 2>&1 || reader=nobody
(umask 0007 && PORTCULLIS_LOG_STDERR=1 exec portcullis daemon --foreground \
    --policy /etc/portcullis/portcullis.ini \
    -o antivirus.database="$work/sigs" \
    -o daemon.metrics_file=$mfile -o daemon.metrics_listen=127.0.0.1:0) \
    > "$work/daemon.log" 2>&1 &
dpid=$!
if wait_until "$PORTCULLIS_TEST_WAIT" test -s $mfile; then
	check "the daemon (as portcullis, umask 0007) writes $mfile 0644" \
	    sh -c "[ \"\$(stat -c %U:%a $mfile)\" = portcullis:644 ]"
	check "$reader (node_exporter's user) reads it, promtool accepts it" \
	    sh -c "runuser -u $reader -- cat $mfile > '$work/m.prom' &&
	    grep -q '^portcullis_messages_total{direction=\"inbound\",action=\"accept\"} 0\$' '$work/m.prom' &&
	    promtool check metrics < '$work/m.prom'"
	port=$(sed -n 's|.*event=metrics state=serving url=http://127\.0\.0\.1:\([0-9]*\)/metrics.*|\1|p' \
	    "$work/daemon.log" | head -n 1)
	check "metrics_listen: GET /metrics on 127.0.0.1:${port:-?}" \
	    sh -c "python3 -c 'import sys, urllib.request
sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())' \
	    http://127.0.0.1:$port/metrics | grep -q '^portcullis_build_info{'"
else
	bad "the daemon wrote no $mfile; its log:"
	sed 's/^/    | /' "$work/daemon.log" | tail -n 30
fi
kill -TERM $dpid 2>/dev/null
wait_until 60 sh -c "! kill -0 $dpid 2>/dev/null" || kill -KILL $dpid 2>/dev/null
wait $dpid 2>/dev/null
rm -f $mfile
