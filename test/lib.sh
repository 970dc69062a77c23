# test/lib.sh - shared by ./runtests, ./quickstart and the test rings.

# Debian packages the build, the tests and the quickstart need.
PORTCULLIS_PACKAGES="autoconf automake make gcc pkg-config libc6-dev \
libmilter-dev libclamav-dev libarchive-dev libgmime-3.0-dev libinih-dev \
libmagic-dev libmagic-mgc postfix miltertest clamav clamav-testfiles swaks \
p7zip-full gcab genisoimage zip unzip bzip2 xz-utils cpio procps \
python3 libpython3.11-testsuite libwrap0 m4 clang libclang-rt-14-dev libssl-dev \
openssl libseccomp-dev debhelper lintian man-db groff-base libsqlite3-dev \
libjson-c-dev sqlite3 libmicrohttpd-dev prometheus chromium rspamd \
libpq-dev postgresql golang-github-jhillyerd-enmime-dev python3-flufl.bounce \
python3-dkim gnupg"

# need_packages: installs the missing ones (as root, non-interactively).
need_packages() {
	missing=""
	for p in $PORTCULLIS_PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		    grep -q "install ok installed" || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "missing Debian packages:$missing (run as root, or install them)"
		return 1
	fi
	echo "installing:$missing"
	# Postfix must not ask questions nor start the system instance.
	echo "postfix postfix/main_mailer_type select No configuration" |
	    debconf-set-selections
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q --no-install-recommends $missing >/dev/null 2>&1 ||
	{ apt-get update -q >/dev/null 2>&1 &&
	  apt-get install -y -q --no-install-recommends $missing >/dev/null; } ||
	{ echo "apt-get install failed for:$missing"; return 1; }
}

# The upper bound, in seconds, of a wait for a condition in the test rings:
# far above what any step takes, so that a sanitizer build on a loaded
# machine does not fail at random, while a real hang still ends.
PORTCULLIS_TEST_WAIT=${PORTCULLIS_TEST_WAIT:-120}

# wait_until SECS CMD [ARG...]: runs CMD every 0.1 s until it succeeds
# (returns 0) or SECS seconds of wall-clock time have passed (returns 1).
# Tests wait for a condition this way, never for a fixed time.
wait_until() {
	_wu_end=$(($(date +%s) + $1))
	shift
	while :; do
		"$@" && return 0
		[ "$(date +%s)" -gt "$_wu_end" ] && return 1
		sleep 0.1
	done
}
