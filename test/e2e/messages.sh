# test/e2e/messages.sh - sample messages for the e2e ring and ./quickstart.
# POSIX sh, sourced. Nothing here is committed as a file: the EICAR string
# is put together from two halves at run time.
#
#   make_eicar FILE            the EICAR test string
#   make_fake_pe FILE          a small inert PE (Windows executable) file
#   make_samples DIR           DIR/{eicar.txt,setup.exe,report.pdf,
#                              invoice.zip (setup.exe), locked.zip
#                              (encrypted, password "secret"), notes.xyz}
#   mkmsg OUT FROM TO SUBJECT [FILE NAME TYPE]...
#                              a message; with attachments it is
#                              multipart/mixed (text part + base64 parts).
#                              $EXTRA_HEADERS (lines ending in \n) is added
#                              to the header.

MSG_SEQ=0

make_eicar() {
	printf '%s%s' 'X5O!P%@AP[4\PZX54(P^)7CC)7}$EICA' \
	    'R-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' > "$1"
}

# "MZ", e_lfanew = 0x40, "PE\0\0", an i386 COFF header and the PE32
# optional-header magic: libmagic calls it a PE32 executable. It matches no
# signature.
make_fake_pe() {
	{
		printf 'MZ'
		head -c 58 /dev/zero
		printf '\100\000\000\000'
		printf 'PE\000\000\114\001\001\000'
		head -c 12 /dev/zero
		printf '\340\000\002\001\013\001'
		head -c 222 /dev/zero
		printf 'This program cannot be run in DOS mode.\r\n'
	} > "$1"
}

make_samples() {
	_d=$1
	mkdir -p "$_d" || return 1
	make_eicar "$_d/eicar.txt"
	make_fake_pe "$_d/setup.exe"
	printf '%%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%%%EOF\n' \
	    > "$_d/report.pdf"
	rm -f "$_d/invoice.zip" "$_d/locked.zip"
	(cd "$_d" && zip -q invoice.zip setup.exe) || return 1
	printf 'quarterly figures\n' > "$_d/figures.txt"
	(cd "$_d" && zip -q -P secret locked.zip figures.txt) || return 1
	printf 'plain notes\n' > "$_d/notes.xyz"
}

mkmsg() {
	_out=$1 _from=$2 _to=$3 _subj=$4
	shift 4
	MSG_SEQ=$((MSG_SEQ + 1))
	_b="=_portcullis_sample_$$_$MSG_SEQ"
	{
		printf 'From: <%s>\nTo: <%s>\nSubject: %s\n' "$_from" "$_to" \
		    "$_subj"
		printf 'Date: %s\nMessage-ID: <%s.%s.%s@sample.portcullis.test>\n' \
		    "$(date -R)" "$_subj" "$$" "$MSG_SEQ"
		printf '%s' "${EXTRA_HEADERS:-}"
		printf 'MIME-Version: 1.0\n'
		if [ $# -eq 0 ]; then
			printf 'Content-Type: text/plain; charset=us-ascii\n\n'
			printf 'Hello,\n\nthis is a clean test message.\n'
		else
			printf 'Content-Type: multipart/mixed; boundary="%s"\n\n' "$_b"
			printf 'This is a MIME message.\n\n--%s\n' "$_b"
			printf 'Content-Type: text/plain; charset=us-ascii\n\n'
			printf 'Hello,\n\nplease find the file attached.\n\n'
			while [ $# -ge 3 ]; do
				printf -- '--%s\n' "$_b"
				printf 'Content-Type: %s; name="%s"\n' "$3" "$2"
				printf 'Content-Disposition: attachment; filename="%s"\n' "$2"
				printf 'Content-Transfer-Encoding: base64\n\n'
				base64 -w 76 < "$1"
				printf '\n'
				shift 3
			done
			printf -- '--%s--\n' "$_b"
		fi
	} > "$_out"
}
