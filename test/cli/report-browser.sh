# test/cli/report-browser.sh - sourced by test/cli/run: "portcullisctl
# report --html" of a quarantine with records over a week, opened in a
# real browser (Debian's headless Chromium, no network: the page must be
# self-contained). The page is not blank and its chart is drawn: the
# screenshot holds enough pixels of each bar colour, the DOM after
# rendering holds the chart's SVG bars, and the page asks for nothing
# outside itself. Uses run's $ctl, $work, pass and fail.

# rbad NAME: one failure, with what to look at.
rbad() {
	echo "FAIL $1"
	fail=$((fail + 1))
}
rok() {
	echo "ok $1"
	pass=$((pass + 1))
}

rq=$work/rq
mkdir -p "$rq/virus" "$rq/attachment" && chmod 700 "$rq" "$rq/virus" \
    "$rq/attachment"
printf '[quarantine]\ndirectory = %s\n' "$rq" > "$work/rq.ini"
now=$(date +%s)
# day k (0 = today) gets k + 1 messages in attachment, and one with a
# virus every other day: bars of different heights in both colours
k=0
n=0
while [ $k -lt 6 ]; do
	i=0
	while [ $i -le $k ]; do
		n=$((n + 1))
		area=attachment rule=blocked_extension file=x.exe
		if [ $i -eq 0 ] && [ $((k % 2)) -eq 0 ]; then
			area=virus rule=virus file=e.com
		fi
		id=$(date -u -d "@$((now - k * 86400))" +%Y%m%dT%H%M%SZ)-$(printf '%016x' $n)
		printf 'Subject: r%s\n\nbody\n' "$n" > "$rq/$area/$id.eml"
		printf '{"id":"%s","area":"%s","time":%s,"queue_id":"R%s",'\
'"envelope":{"sender":"a@example.net","recipients":["b@example.org"],'\
'"client":null,"auth_user":null,"direction":"inbound"},"findings":'\
'[{"rule":"%s","part":"1","filename":"%s","detail":"d",'\
'"action":"reject"}],"action":"reject","disposition":"reject",'\
'"summary":"s","size":20,"policy":{"version":1,"source":"p"}}\n' \
		    "$id" "$area" "$((now - k * 86400))" "$n" "$rule" "$file" \
		    > "$rq/$area/$id.json"
		i=$((i + 1))
	done
	k=$((k + 1))
done
html=$work/report.html
if "$ctl" --policy "$work/rq.ini" import > "$work/rq.import" 2>&1 &&
    "$ctl" --policy "$work/rq.ini" report --html --days 7 > "$html" \
    2> "$work/rq.err"; then
	rok "report --html of $n records over 6 days"
else
	rbad "report --html of $n records: import or report failed:"
	sed 's/^/    | /' "$work/rq.import" "$work/rq.err" | head -n 20
fi

# Self-contained: nothing to fetch (no src/href/url() to elsewhere).
if grep -Eiq '(src|href)="?(https?:|//)|url\(|@import|<link|<script[^>]*src' \
    "$html"; then
	rbad "report --html is not self-contained:"
	grep -Eio '.{0,40}((src|href)="?(https?:|//)|url\(|@import|<link|<script[^>]*src).{0,40}' \
	    "$html" | head -n 5 | sed 's/^/    | /'
else
	rok "report --html refers to nothing outside the page"
fi

# The browser: no network (a proxy that does not exist), a private
# profile, bounded.
chrome() {
	timeout 120 chromium --headless --no-sandbox --disable-gpu \
	    --disable-dev-shm-usage --no-first-run --disable-extensions \
	    --disable-background-networking --disable-sync \
	    --proxy-server=http://127.0.0.1:9 \
	    --user-data-dir="$work/chromium" --hide-scrollbars \
	    --window-size=1100,800 "$@" "file://$html"
}
shot=$work/report.png
if ! command -v chromium > /dev/null 2>&1; then
	rbad "chromium is not installed (Debian package chromium)"
elif ! chrome --screenshot="$shot" > "$work/chromium.log" 2>&1 ||
    [ ! -s "$shot" ]; then
	rbad "chromium --screenshot made no $shot; its output:"
	tail -n 20 "$work/chromium.log" | sed 's/^/    | /'
else
	# Pixels of each bar colour (the quarantined and the virus bars of
	# the day chart) and the share of non-white pixels, read from the
	# PNG with python3's zlib (8-bit RGB or RGBA, as Chromium writes).
	out=$(python3 - "$shot" <<'EOF'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat = 8, b""
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
assert depth == 8 and ctype in (2, 6), "PNG type %d/%d" % (depth, ctype)
bpp = 3 if ctype == 2 else 4
raw = zlib.decompress(idat)
stride = w * bpp
prev = bytearray(stride)
rows = []
p = 0
for y in range(h):
    f = raw[p]
    line = bytearray(raw[p + 1:p + 1 + stride])
    p += 1 + stride
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0
        b = prev[x]
        c = prev[x - bpp] if x >= bpp else 0
        if f == 1:
            line[x] = (line[x] + a) & 255
        elif f == 2:
            line[x] = (line[x] + b) & 255
        elif f == 3:
            line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
            pr = a if pa <= pb and pa <= pc else b if pb <= pc else c
            line[x] = (line[x] + pr) & 255
    rows.append(bytes(line))
    prev = line
def near(px, rgb):
    return all(abs(px[i] - rgb[i]) <= 6 for i in range(3))
m = v = ink = 0
for line in rows:
    for x in range(0, stride, bpp):
        px = line[x:x + 3]
        if px != b"\xff\xff\xff":
            ink += 1
        if near(px, (0x4a, 0x78, 0xb5)):
            m += 1
        elif near(px, (0xc0, 0x39, 0x2b)):
            v += 1
print("%dx%d quarantined=%d virus=%d ink=%.4f" % (w, h, m, v,
    ink / float(w * h)))
EOF
)
	echo "    screenshot: $out"
	m=$(printf '%s\n' "$out" | sed -n 's/.*quarantined=\([0-9]*\).*/\1/p')
	v=$(printf '%s\n' "$out" | sed -n 's/.*virus=\([0-9]*\).*/\1/p')
	ink=$(printf '%s\n' "$out" | sed -n 's/.*ink=\([0-9.]*\).*/\1/p')
	# A bar of one message is 160/6 px high and 10 (virus: 6) wide; the
	# legend's swatches alone are 100 px of each colour.
	if [ -n "$m" ] && [ "$m" -ge 1000 ] && [ "$v" -ge 300 ] &&
	    awk -v i="$ink" 'BEGIN { exit !(i >= 0.01) }'; then
		rok "the screenshot shows the page and its chart ($out)"
	else
		rbad "the screenshot: got '$out', want quarantined >= 1000, virus >= 300 pixels, ink >= 0.01 (blank or no chart)"
	fi
fi

# The DOM after rendering: the chart's bars, one group per day.
if command -v chromium > /dev/null 2>&1 &&
    chrome --dump-dom > "$work/report.dom" 2> "$work/chromium.dom.log"; then
	bars=$(grep -o '<rect class="m"' "$work/report.dom" | wc -l)
	tips=$(grep -Eo '<title>[0-9-]+: [0-9]+ judged, [1-9][0-9]* quarantined' \
	    "$work/report.dom" | wc -l)
	if [ "$bars" -ge 6 ] && [ "$tips" -eq 6 ]; then
		rok "the rendered DOM: $bars chart bars, 6 days with quarantined mail"
	else
		rbad "the rendered DOM: got $bars bars and $tips days with quarantined mail, want >= 6 and 6"
	fi
	# The day labels under the chart ("MM-DD", about 30 px wide at
	# 10 px) do not overlap.
	xs=$(grep -Eo '<text x="[0-9]+" y="[0-9]+" class="ax">[0-9]{2}-[0-9]{2}</text>' \
	    "$work/report.dom" | sed 's/<text x="\([0-9]*\)".*/\1/' | tr '\n' ' ')
	if printf '%s\n' "$xs" | awk '{ if (NF < 2) exit 1
	    for (i = 2; i <= NF; i++) if ($i - $(i - 1) < 32) exit 1 }'; then
		rok "the chart's day labels are 32 px apart or more (x: $xs)"
	else
		rbad "the chart's day labels overlap: got x positions '$xs', want at least 2, 32 px apart or more"
	fi
else
	rbad "chromium --dump-dom failed:"
	tail -n 20 "$work/chromium.dom.log" 2>/dev/null | sed 's/^/    | /'
fi
