/*
 * test/unit/test-magic.c - unit tests for lib/magic (true types).
 *
 * Each row builds real bytes at test time (the tools, a few fixed
 * headers written with printf, the ClamAV test files when installed, and
 * OLE2 compound files assembled here) and checks the word typer_detect()
 * gives with libmagic and with the built-in signatures alone (t == NULL).
 */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "magic.h"
#include "policy.h"
#include "util.h"
#include "t.h"

#define CLAM	"/usr/share/clamav-testfiles/"
#define OLE_LEN	2048	/* header, FAT sector, two directory sectors */

enum ole_kind { OLE_NONE, OLE_MSI, OLE_WORD, OLE_WORD_MACRO, OLE_PLAIN };

struct magic_case {
	const char	*name;
	const char	*cmd;		/* writes "f" in the scratch dir */
	enum ole_kind	 ole;		/* instead of cmd */
	bool		 optional;	/* skip when cmd fails (missing file) */
	const char	*want;		/* with libmagic */
	const char	*want_builtin;	/* with t == NULL */
};

#define ZEROS(n)	"head -c " #n " /dev/zero"
#define PY(prog)	"python3 -c \"import sys; " prog "\" > f"
#define OOXML(extra) \
	"mkdir -p o/word && printf '<x/>' > 'o/[Content_Types].xml' && " \
	"printf '<w/>' > o/word/document.xml && " extra \
	"cd o && zip -qr ../f.zip . && mv ../f.zip ../f"

static const struct magic_case cases_tab[] = {
	{ "pe", "cp " CLAM "clam.exe f", OLE_NONE, true, "exe-pe",
	    "exe-pe" },
	{ "elf", "cp /bin/ls f", OLE_NONE, false, "exe-elf", "exe-elf" },
	{ "mz without pe", "{ printf 'MZ'; " ZEROS(200) "; } > f", OLE_NONE,
	    false, "exe-dos", "exe-dos" },
	{ "mach-o 64", "{ printf '\\317\\372\\355\\376'; " ZEROS(100)
	    "; } > f", OLE_NONE, false, "exe-macho", "exe-macho" },
	{ "mach-o fat", "{ printf '\\312\\376\\272\\276\\0\\0\\0\\2'; "
	    ZEROS(100) "; } > f", OLE_NONE, false, "exe-macho", "exe-macho" },
	{ "java class is not mach-o",
	    "{ printf '\\312\\376\\272\\276\\0\\0\\0\\64'; " ZEROS(100)
	    "; } > f", OLE_NONE, false, "data", "data" },
	{ "shebang script", "printf '#!/bin/sh\\necho hi\\n' > f", OLE_NONE,
	    false, "script", "script" },
	{ "batch file", "printf '@echo off\\r\\ndel x\\r\\n' > f", OLE_NONE,
	    false, "script", "data" },
	{ "vbscript", "printf 'Set o = CreateObject(\"WScript.Shell\")\\r\\n"
	    "o.Run \"cmd\"\\r\\n' > f", OLE_NONE, false, "script", "data" },
	{ "jscript", "printf 'var s = new ActiveXObject(\"WScript.Shell\");"
	    "\\ns.Run(\"calc\");\\n' > f", OLE_NONE, false, "script", "data" },
	{ "registry file", "printf 'Windows Registry Editor Version 5.00"
	    "\\r\\n\\r\\n[HKEY_CURRENT_USER\\\\x]\\r\\n' > f", OLE_NONE, false,
	    "script", "script" },
	{ "shortcut", "{ printf '\\114\\0\\0\\0\\001\\024\\002\\0\\0\\0\\0\\0"
	    "\\300\\0\\0\\0\\0\\0\\0\\106'; " ZEROS(100) "; } > f", OLE_NONE,
	    false, "shortcut", "shortcut" },
	{ "msi", NULL, OLE_MSI, false, "msi", "msi" },
	{ "ole word", NULL, OLE_WORD, false, "office", "office" },
	{ "ole word with macros", NULL, OLE_WORD_MACRO, false,
	    "office-macro", "office-macro" },
	{ "ole other", NULL, OLE_PLAIN, false, "ole", "ole" },
	{ "clam.ole.doc", "cp " CLAM "clam.ole.doc f", OLE_NONE, true,
	    "office", "office" },
	{ "clam.ppt", "cp " CLAM "clam.ppt f", OLE_NONE, true, "office",
	    "office" },
	{ "docx", OOXML(""), OLE_NONE, false, "office", "office" },
	{ "docm", OOXML("printf 'x' > o/word/vbaProject.bin && "), OLE_NONE,
	    false, "office-macro", "office-macro" },
	{ "xlsx with macro sheet",
	    "mkdir -p o/xl/macrosheets && printf '<x/>' > "
	    "'o/[Content_Types].xml' && printf '<m/>' > "
	    "o/xl/macrosheets/sheet1.xml && cd o && zip -qr ../f.zip . && "
	    "mv ../f.zip ../f", OLE_NONE, false, "office-macro",
	    "office-macro" },
	{ "odt", "mkdir o && printf 'application/vnd.oasis.opendocument.text'"
	    " > o/mimetype && printf '<x/>' > o/content.xml && cd o && "
	    "zip -q -X -0 ../f.zip mimetype && zip -q -X ../f.zip content.xml "
	    "&& mv ../f.zip ../f", OLE_NONE, false, "office", "office" },
	{ "jar", "mkdir -p o/META-INF && printf 'Manifest-Version: 1.0\\n' >"
	    " o/META-INF/MANIFEST.MF && cd o && zip -qr ../f.zip . && "
	    "mv ../f.zip ../f", OLE_NONE, false, "jar", "jar" },
	{ "zip", "printf 'hi\\n' > a.txt && zip -q f.zip a.txt && mv f.zip f",
	    OLE_NONE, false, "zip", "zip" },
	/* a zip cut inside its first local header (30 bytes) holds nothing:
	 * 29 bytes are data, 30 a (cut) zip */
	{ "zip cut at 29 bytes", "printf 'hi\\n' > a.txt && zip -q z.zip a.txt "
	    "&& head -c 29 z.zip > f", OLE_NONE, false, "data", "data" },
	{ "zip cut at 30 bytes", "printf 'hi\\n' > a.txt && zip -q z.zip a.txt "
	    "&& head -c 30 z.zip > f", OLE_NONE, false, "zip", "zip" },
	{ "pdf", "printf '%%PDF-1.4\\n1 0 obj\\n<<>>\\nendobj\\n' > f",
	    OLE_NONE, false, "pdf", "pdf" },
	{ "pdf after junk", "printf 'junk junk\\n%%PDF-1.7\\n' > f", OLE_NONE,
	    false, "pdf", "pdf" },
	{ "rtf", "printf '{\\\\rtf1\\\\ansi hello}' > f", OLE_NONE, false,
	    "rtf", "rtf" },
	{ "png", "{ printf '\\211PNG\\r\\n\\032\\n'; " ZEROS(64) "; } > f",
	    OLE_NONE, false, "image", "image" },
	{ "gif", "{ printf 'GIF89a'; " ZEROS(64) "; } > f", OLE_NONE, false,
	    "image", "image" },
	{ "7z", "printf 'hi\\n' > a.txt && 7z a f.7z a.txt && mv f.7z f",
	    OLE_NONE, false, "7z", "7z" },
	{ "rar", "{ printf 'Rar!\\032\\007\\0'; " ZEROS(64) "; } > f",
	    OLE_NONE, false, "rar", "rar" },
	{ "tar", "printf 'hi\\n' > a.txt && tar cf f a.txt", OLE_NONE, false,
	    "tar", "tar" },
	{ "gzip", "printf 'hi\\n' > a.txt && tar czf f a.txt", OLE_NONE,
	    false, "gzip", "gzip" },
	{ "bzip2", "printf 'hi\\n' > a.txt && tar cjf f a.txt", OLE_NONE,
	    false, "bzip2", "bzip2" },
	{ "xz", "printf 'hi\\n' > a.txt && tar cJf f a.txt", OLE_NONE, false,
	    "xz", "xz" },
	{ "lzma", "printf 'hi\\n' | lzma -c > f", OLE_NONE, true, "lzma",
	    "data" },
	{ "zstd", "printf 'hi\\n' | zstd -q -c > f", OLE_NONE, true, "zstd",
	    "zstd" },
	{ "cab", "printf 'hi\\n' > a.txt && gcab -c f a.txt", OLE_NONE, false,
	    "cab", "cab" },
	{ "iso", "mkdir d && printf 'hi\\n' > d/a.txt && "
	    "genisoimage -quiet -o f d", OLE_NONE, false, "iso", "iso" },
	{ "cpio newc", "printf 'hi\\n' > a.txt && echo a.txt | "
	    "cpio -o -H newc > f", OLE_NONE, false, "cpio", "cpio" },
	{ "cpio binary", "printf 'hi\\n' > a.txt && echo a.txt | cpio -o > f",
	    OLE_NONE, false, "cpio", "cpio" },
	{ "chm", "cp " CLAM "clam.chm f", OLE_NONE, true, "chm", "chm" },
	{ "arj", "cp " CLAM "clam.arj f", OLE_NONE, true, "arj", "arj" },
	{ "lzh", "{ printf '\\045\\0-lh5-'; " ZEROS(64) "; } > f", OLE_NONE,
	    false, "lzh", "lzh" },
	{ "xar", "{ printf 'xar!'; " ZEROS(64) "; } > f", OLE_NONE, false,
	    "xar", "xar" },
	{ "ar", "{ printf '!<arch>\\n'; " ZEROS(64) "; } > f", OLE_NONE,
	    false, "ar", "ar" },
	{ "vhdx", "{ printf 'vhdxfile'; " ZEROS(64) "; } > f", OLE_NONE,
	    false, "disk-image", "disk-image" },
	{ "onenote", "{ printf '\\344\\122\\134\\173\\214\\330\\247\\115"
	    "\\256\\261\\123\\170\\320\\051\\226\\323'; " ZEROS(64) "; } > f",
	    OLE_NONE, false, "onenote", "onenote" },
	{ "html", "printf '<html><body>hi</body></html>\\n' > f", OLE_NONE,
	    false, "html", "data" },
	{ "svg", "printf '<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>\\n'"
	    " > f", OLE_NONE, false, "svg", "data" },
	{ "calendar", "printf 'BEGIN:VCALENDAR\\r\\nVERSION:2.0\\r\\n"
	    "END:VCALENDAR\\r\\n' > f", OLE_NONE, false, "calendar", "data" },
	{ "xml", "printf '<?xml version=\"1.0\"?>\\n<a>b</a>\\n' > f",
	    OLE_NONE, false, "xml", "data" },
	{ "email", "cp " CLAM "clam.mail f", OLE_NONE, true, "email",
	    "data" },
	{ "text", "printf 'hello world, nothing to see here\\n' > f",
	    OLE_NONE, false, "text", "data" },
	{ "wav audio", "{ printf 'RIFF\\044\\0\\0\\0WAVEfmt \\020\\0\\0\\0"
	    "\\001\\0\\001\\0\\104\\254\\0\\0\\210\\130\\001\\0\\002\\0\\020\\0"
	    "data\\0\\0\\0\\0'; } > f", OLE_NONE, false, "audio", "data" },
	{ "random bytes", "python3 -c 'import random, sys; random.seed(7); "
	    "sys.stdout.buffer.write(random.randbytes(4096))' > f", OLE_NONE, false,
	    "data", "data" },
	/* ---- true types of blocked extensions, and their look-alikes ---- */
	{ "swf plain", PY("import struct; b = bytes(17); sys.stdout.buffer."
	    "write(b'FWS\\x0a' + struct.pack('<I', 8 + len(b)) + b)"),
	    OLE_NONE, false, "swf", "swf" },
	{ "swf zlib", PY("import struct, zlib; b = bytes(40); sys.stdout."
	    "buffer.write(b'CWS\\x0a' + struct.pack('<I', 8 + len(b)) + "
	    "zlib.compress(b))"), OLE_NONE, false, "swf", "swf" },
	{ "swf lzma", PY("import struct, lzma; b = bytes(40); a = lzma."
	    "compress(b, format=lzma.FORMAT_ALONE); sys.stdout.buffer.write("
	    "b'ZWS\\x0d' + struct.pack('<II', 8 + len(b), len(a) - 13) + "
	    "a[:5] + a[13:])"), OLE_NONE, false, "swf", "swf" },
	{ "text starting FWS is not swf", "printf 'FWS2 minutes of the "
	    "meeting\\nnothing else\\n' > f", OLE_NONE, false, "text", "data" },
	{ "text starting ITSF is not chm", "printf 'ITSF budget for 2027, "
	    "second draft\\nthanks\\n' > f", OLE_NONE, false, "text", "data" },
	{ "udf without iso 9660", "{ " ZEROS(32768) "; printf '\\0BEA01\\1';"
	    " " ZEROS(2041) "; printf '\\0NSR02\\1'; " ZEROS(2041) "; printf "
	    "'\\0TEA01\\1'; " ZEROS(8000) "; } > f", OLE_NONE, false, "iso",
	    "iso" },
	{ "iso with udf", "mkdir d && printf 'hi\\n' > d/a.txt && "
	    "genisoimage -quiet -udf -o f d", OLE_NONE, false, "iso", "iso" },
	{ "vhd fixed, footer only", PY("import struct; f = bytearray(512); "
	    "f[0:8] = b'conectix'; struct.pack_into('>IIQ', f, 8, 2, 0x10000, "
	    "2**64 - 1); struct.pack_into('>QQI', f, 40, 65536, 65536, 2); "
	    "struct.pack_into('>I', f, 64, ~sum(f) & 0xffffffff); "
	    "sys.stdout.buffer.write(bytes(65536) + bytes(f))"), OLE_NONE,
	    false, "disk-image", "disk-image" },
	{ "vhd footer of 511 bytes", PY("f = b'conectix' + bytes(503); "
	    "sys.stdout.buffer.write(bytes(4096) + f)"), OLE_NONE, false,
	    "disk-image", "disk-image" },
	{ "dmg is not a windows disk", PY("import struct; k = bytearray(512); "
	    "k[0:4] = b'koly'; struct.pack_into('>II', k, 4, 4, 512); "
	    "sys.stdout.buffer.write(bytes(8192) + bytes(k))"), OLE_NONE, false,
	    "dmg", "dmg" },
	{ "raw disk image (mbr) is data", PY("import struct; m = bytearray("
	    "65536); m[450] = 0x0c; struct.pack_into('<II', m, 454, 2048, 9); "
	    "m[510:512] = b'\\x55\\xaa'; sys.stdout.buffer.write(bytes(m))"),
	    OLE_NONE, false, "data", "data" },
	{ "tar of a big file is not iso", "head -c 50000 /dev/zero | tr '\\0' "
	    "x > a.txt && tar cf f a.txt", OLE_NONE, false, "tar", "tar" },
	{ "tar holding an iso is tar", "mkdir d && printf 'hi\\n' > d/a.txt && "
	    "genisoimage -quiet -o cd.iso d && tar cf f cd.iso", OLE_NONE,
	    false, "tar", "tar" },
	{ "jar of classes, no manifest", "mkdir -p o/com/x && { printf "
	    "'\\312\\376\\272\\276\\0\\0\\0\\64'; " ZEROS(40) "; } > "
	    "o/com/x/Main.class && cd o && zip -qr ../f.zip . && "
	    "mv ../f.zip ../f", OLE_NONE, false, "jar", "jar" },
	{ "jar dressed as docx", OOXML("mkdir -p o/META-INF && printf "
	    "'Manifest-Version: 1.0\\nMain-Class: A\\n' > o/META-INF/"
	    "MANIFEST.MF && "), OLE_NONE, false, "jar", "jar" },
	{ "zip of java sources is zip", "printf 'class A {}\\n' > A.java && "
	    "zip -q f.zip A.java && mv f.zip f", OLE_NONE, false, "zip",
	    "zip" },
	{ "xlsx is not jar", "mkdir -p o/xl o/_rels && printf '<x/>' > "
	    "'o/[Content_Types].xml' && printf '<w/>' > o/xl/workbook.xml && "
	    "printf '<r/>' > o/_rels/.rels && cd o && zip -qr ../f.zip . && "
	    "mv ../f.zip ../f", OLE_NONE, false, "office", "office" },
	{ "odt with its manifest is not jar", "mkdir -p o/META-INF && printf "
	    "'application/vnd.oasis.opendocument.text' > o/mimetype && printf "
	    "'<m/>' > o/META-INF/manifest.xml && printf '<x/>' > "
	    "o/content.xml && cd o && zip -q -X -0 ../f.zip mimetype && "
	    "zip -q -X -r ../f.zip content.xml META-INF && mv ../f.zip ../f",
	    OLE_NONE, false,
	    "office", "office" },
	{ "encoded vbscript (vbe)", "printf '#@~^DgAAAA==\\\\ko$K6,JC^VWJhMMAA"
	    "AA==^#~@\\r\\n' > f", OLE_NONE, false, "script", "script" },
	{ "encoded jscript after a comment (jse)", "printf '// build 7\\r\\n"
	    "#@~^CAAAAA==C^+kY`8b80AAA==^#~@\\r\\n' > f", OLE_NONE, false,
	    "script", "script" },
	{ "text quoting a broken encoder frame", "printf 'the marker #@~^ "
	    "starts an encoded script\\n' > f", OLE_NONE, false, "text",
	    "data" },
	{ "wsh settings file", "printf '[ScriptFile]\\r\\n"
	    "Path=C:\\\\t\\\\a.vbs\\r\\n[Options]\\r\\nTimeout=0\\r\\n' > f",
	    OLE_NONE, false, "script", "script" },
	{ "registry file, utf-8 bom", "printf '\\357\\273\\277REGEDIT4\\r\\n"
	    "\\r\\n[HKEY_CURRENT_USER\\\\\\\\x]\\r\\n' > f", OLE_NONE, false,
	    "script", "script" },
	{ "registry file, utf-16", "printf 'Windows Registry Editor Version "
	    "5.00\\r\\n\\r\\n[HKEY_CURRENT_USER\\\\\\\\x]\\r\\n' | "
	    "iconv -t UTF-16LE | { printf '\\377\\376'; cat; } > f", OLE_NONE,
	    false, "script", "script" },
	{ "wsf", "printf '<job id=\"a\">\\r\\n<script language=\"VBScript\">"
	    "\\r\\nMsgBox 1\\r\\n</script>\\r\\n</job>\\r\\n' > f", OLE_NONE,
	    false, "script", "data" },
	{ "wsf in a package", "printf '<?xml version=\"1.0\"?>\\r\\n<package>"
	    "<job id=\"a\"><script language=\"JScript\">var a = 1;</script>"
	    "</job></package>\\r\\n' > f", OLE_NONE, false, "script", "data" },
	{ "hta", "printf '<html><head><HTA:APPLICATION ID=\"a\"></head><body>"
	    "<p>hello</p></body></html>\\r\\n' > f", OLE_NONE, false, "script",
	    "data" },
	{ "html with script is html", "printf '<html><body><p>job offers</p>"
	    "<jobs-list/><script>var a = 1;</script></body></html>\\n' > f",
	    OLE_NONE, false, "html", "data" },
	{ "xml with a job is xml", "printf '<?xml version=\"1.0\"?>\\n<queue>"
	    "<job id=\"1\">print</job></queue>\\n' > f", OLE_NONE, false, "xml",
	    "data" },
	{ "pdf with javascript is pdf", "printf '%%PDF-1.4\\n1 0 obj\\n<< /S "
	    "/JavaScript /JS (new ActiveXObject(\"WScript.Shell\")) >>\\n"
	    "endobj\\n' > f", OLE_NONE, false, "pdf", "pdf" },
	{ "powershell is not recognised", "printf '$c = New-Object "
	    "Net.WebClient\\r\\n$c.DownloadFile($u, $p)\\r\\n' > f", OLE_NONE,
	    false, "text", "data" },
};

static void
put16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static void
put32(unsigned char *p, uint32_t v)
{
	put16(p, v & 0xffff);
	put16(p + 2, v >> 16);
}

static void
ole_entry(unsigned char *e, const char *name, unsigned type)
{
	size_t	i, l = strlen(name);

	for (i = 0; i < l; i++)
		e[2 * i] = (unsigned char)name[i];
	put16(e + 0x40, (unsigned)(l + 1) * 2);
	e[0x42] = (unsigned char)type;
	put32(e + 0x44, 0xffffffffU);
	put32(e + 0x48, 0xffffffffU);
	put32(e + 0x4c, 0xffffffffU);
	put32(e + 0x74, 0xfffffffeU);
}

/*
 * A minimal OLE2 file: 512-byte sectors, sector 0 the FAT, sectors 1
 * and 2 the directory chain (so the FAT walk is exercised: the macro
 * storage sits in the second directory sector).
 */
static unsigned char *
ole_build(enum ole_kind kind, size_t *len_r)
{
	static const unsigned char msi[16] = { 0x84, 0x10, 0x0c, 0, 0, 0, 0,
	    0, 0xc0, 0, 0, 0, 0, 0, 0, 0x46 };
	unsigned char	*b = xcalloc(1, OLE_LEN), *dir = b + 1024;
	size_t		 i;

	memcpy(b, "\320\317\021\340\241\261\032\341", 8);
	put16(b + 0x18, 0x3e);
	put16(b + 0x1a, 3);
	put16(b + 0x1c, 0xfffe);
	put16(b + 0x1e, 9);
	put16(b + 0x20, 6);
	put32(b + 0x2c, 1);
	put32(b + 0x30, 1);
	put32(b + 0x38, 4096);
	put32(b + 0x3c, 0xfffffffeU);
	put32(b + 0x44, 0xfffffffeU);
	for (i = 0; i < 109; i++)
		put32(b + 0x4c + 4 * i, i == 0 ? 0 : 0xffffffffU);
	for (i = 0; i < 128; i++)
		put32(b + 512 + 4 * i, 0xffffffffU);
	put32(b + 512, 0xfffffffdU);		/* sector 0: the FAT */
	put32(b + 512 + 4, 2);			/* directory: 1 -> 2 */
	put32(b + 512 + 8, 0xfffffffeU);	/* 2: end of chain */
	ole_entry(dir, "Root Entry", 5);
	if (kind == OLE_MSI)
		memcpy(dir + 0x50, msi, 16);
	ole_entry(dir + 128, "\005SummaryInformation", 2);
	if (kind == OLE_WORD || kind == OLE_WORD_MACRO)
		ole_entry(dir + 256, "WordDocument", 2);
	ole_entry(dir + 384, "1Table", 2);
	if (kind == OLE_WORD_MACRO) {
		ole_entry(dir + 512, "Macros", 1);
		ole_entry(dir + 640, "VBA", 1);
	}
	*len_r = OLE_LEN;
	return b;
}

static struct typer *shared_typer;

static unsigned char *
case_bytes(struct t *t, const struct magic_case *c, size_t *len_r)
{
	char	path[512];

	if (c->cmd == NULL)
		return ole_build(c->ole, len_r);
	if (t_sh("cd '%s' && rm -rf ./* && { %s; } >/dev/null 2>&1",
	    t_tmpdir(t), c->cmd) != 0)
		return NULL;
	snprintf(path, sizeof path, "%s/f", t_tmpdir(t));
	return t_read_file(path, len_r);
}

static void
run_case(struct t *t, const struct magic_case *c)
{
	unsigned char	*b;
	size_t		 len;
	const char	*got;
	char		 desc[256];

	b = case_bytes(t, c, &len);
	if (b == NULL) {
		if (c->optional) {
			t_log(t, "%s: skipped, cannot build (%s)", c->name,
			    c->cmd);
			t_check(t, true, "skipped");
		} else
			t_error(t, "%s: cannot build: %s", c->name, c->cmd);
		return;
	}
	got = typer_detect(shared_typer, b, len, desc, sizeof desc);
	t_check(t, strcmp(got, c->want) == 0, "%s: got %s, want %s (%s)",
	    c->name, got, c->want, desc);
	t_check(t, truetype_known(got), "%s: %s is not in the vocabulary",
	    c->name, got);
	got = typer_detect(shared_typer, b, len, NULL, 0);
	t_check(t, strcmp(got, c->want) == 0,
	    "%s without description: got %s, want %s", c->name, got, c->want);
	got = typer_detect(NULL, b, len, desc, sizeof desc);
	t_check(t, strcmp(got, c->want_builtin) == 0,
	    "%s built-in only: got %s, want %s (%s)", c->name, got,
	    c->want_builtin, desc);
	free(b);
}

static void
run_row(struct t *t, size_t i)
{
	if (i < T_NCASES(cases_tab))
		run_case(t, &cases_tab[i]);
}

#define ROW(i)								\
	static void							\
	row_##i(struct t *t)						\
	{								\
		run_row(t, i);						\
	}
ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5) ROW(6) ROW(7) ROW(8) ROW(9)
ROW(10) ROW(11) ROW(12) ROW(13) ROW(14) ROW(15) ROW(16) ROW(17) ROW(18)
ROW(19) ROW(20) ROW(21) ROW(22) ROW(23) ROW(24) ROW(25) ROW(26) ROW(27)
ROW(28) ROW(29) ROW(30) ROW(31) ROW(32) ROW(33) ROW(34) ROW(35) ROW(36)
ROW(37) ROW(38) ROW(39) ROW(40) ROW(41) ROW(42) ROW(43) ROW(44) ROW(45)
ROW(46) ROW(47) ROW(48) ROW(49) ROW(50) ROW(51) ROW(52) ROW(53) ROW(54)
ROW(55) ROW(56) ROW(57) ROW(58) ROW(59) ROW(60) ROW(61) ROW(62) ROW(63)
ROW(64) ROW(65) ROW(66) ROW(67) ROW(68) ROW(69) ROW(70) ROW(71) ROW(72)
ROW(73) ROW(74) ROW(75) ROW(76) ROW(77) ROW(78) ROW(79) ROW(80) ROW(81)
ROW(82) ROW(83) ROW(84) ROW(85) ROW(86) ROW(87) ROW(88) ROW(89) ROW(90)
ROW(91) ROW(92) ROW(93) ROW(94) ROW(95) ROW(96) ROW(97) ROW(98) ROW(99)

static void (*const row_fns[])(struct t *) = {
	row_0, row_1, row_2, row_3, row_4, row_5, row_6, row_7, row_8,
	row_9, row_10, row_11, row_12, row_13, row_14, row_15, row_16,
	row_17, row_18, row_19, row_20, row_21, row_22, row_23, row_24,
	row_25, row_26, row_27, row_28, row_29, row_30, row_31, row_32,
	row_33, row_34, row_35, row_36, row_37, row_38, row_39, row_40,
	row_41, row_42, row_43, row_44, row_45, row_46, row_47, row_48,
	row_49, row_50, row_51, row_52, row_53, row_54, row_55, row_56,
	row_57, row_58, row_59, row_60, row_61, row_62, row_63, row_64,
	row_65, row_66, row_67, row_68, row_69, row_70, row_71, row_72,
	row_73, row_74, row_75, row_76, row_77, row_78, row_79, row_80,
	row_81, row_82, row_83, row_84, row_85, row_86, row_87, row_88,
	row_89, row_90, row_91, row_92, row_93, row_94, row_95, row_96,
	row_97, row_98, row_99,
};

_Static_assert(T_NCASES(cases_tab) <= T_NCASES(row_fns),
    "more table rows than ROW() functions");

static void
vocabulary(struct t *t)
{
	static const char *const words[] = {
		"exe-pe", "exe-elf", "exe-macho", "exe-dos", "script",
		"shortcut", "msi", "office-macro", "office", "onenote", "ole",
		"pdf", "rtf", "zip", "jar", "7z", "rar", "tar", "gzip", "bzip2",
		"xz", "lzma", "zstd", "cab", "iso", "cpio", "arj", "lzh", "xar",
		"ar", "chm", "swf", "disk-image", "dmg", "image", "svg",
		"audio", "video", "html", "email", "text", "calendar", "xml",
		"data",
	};
	static const char *const archives[] = {
		"zip", "jar", "7z", "rar", "tar", "gzip", "bzip2", "xz", "lzma",
		"zstd", "cab", "iso", "cpio", "lzh", "xar", "ar",
	};
	static const char *const not_words[] = {
		"", "exe", "EXE-PE", "zip ", "lha", "docx", "unknown",
	};
	size_t	i, j;

	for (i = 0; i < T_NCASES(words); i++) {
		bool arc = false;

		for (j = 0; j < T_NCASES(archives); j++)
			if (strcmp(words[i], archives[j]) == 0)
				arc = true;
		t_check(t, truetype_known(words[i]),
		    "truetype_known(%s): got false, want true", words[i]);
		t_check(t, truetype_is_archive(words[i]) == arc,
		    "truetype_is_archive(%s): got %d, want %d", words[i],
		    truetype_is_archive(words[i]), arc);
	}
	for (i = 0; i < T_NCASES(not_words); i++)
		t_check(t, !truetype_known(not_words[i]) &&
		    !truetype_is_archive(not_words[i]),
		    "\"%s\": got known, want unknown", not_words[i]);
	t_check(t, !truetype_known(NULL), "NULL: got known, want unknown");
}

static void
empty_and_tiny(struct t *t)
{
	char		 desc[64];
	const char	*got;

	got = typer_detect(shared_typer, (const unsigned char *)"", 0, desc,
	    sizeof desc);
	t_check(t, strcmp(got, "data") == 0, "empty: got %s, want data", got);
	got = typer_detect(shared_typer, (const unsigned char *)"M", 1, NULL,
	    0);
	t_check(t, strcmp(got, "data") == 0 || strcmp(got, "text") == 0,
	    "one byte: got %s, want data or text", got);
	got = typer_detect(NULL, (const unsigned char *)"MZ", 2, desc, 1);
	t_check(t, strcmp(got, "exe-dos") == 0 && desc[0] == '\0',
	    "MZ with a 1-byte desc: got %s \"%s\", want exe-dos \"\"", got,
	    desc);
}

static void
description(struct t *t)
{
	unsigned char	*b;
	size_t		 len;
	char		 desc[256];

	b = ole_build(OLE_MSI, &len);
	typer_detect(shared_typer, b, len, desc, sizeof desc);
	t_check(t, strstr(desc, "Composite Document") != NULL,
	    "msi description: got \"%s\", want libmagic's", desc);
	typer_detect(NULL, b, len, desc, sizeof desc);
	t_check(t, strcmp(desc, "OLE2 compound file") == 0,
	    "built-in description: got \"%s\", want \"OLE2 compound file\"",
	    desc);
	free(b);
}

/* A truncated OLE file (chain pointing past the end) must not be read
 * out of bounds; ASan watches. */
static void
ole_truncated(struct t *t)
{
	unsigned char	*b;
	size_t		 len, cut;
	const char	*got;

	b = ole_build(OLE_WORD_MACRO, &len);
	for (cut = 0; cut <= len; cut += 64) {
		unsigned char *c = xmalloc(cut == 0 ? 1 : cut);

		memcpy(c, b, cut);
		got = typer_detect(NULL, c, cut, NULL, 0);
		t_check(t, truetype_known(got), "cut %zu: got %s", cut, got);
		free(c);
	}
	/* a directory chain that loops */
	put32(b + 512 + 8, 1);
	got = typer_detect(NULL, b, len, NULL, 0);
	t_check(t, strcmp(got, "office-macro") == 0,
	    "looping chain: got %s, want office-macro", got);
	free(b);
}

/* The new signatures cut at every length, each copy in a buffer of
 * exactly that size: no read past the end (ASan watches). */
static void
signatures_truncated(struct t *t)
{
	static const struct {
		const char	*name;
		const char	*bytes;
		size_t		 len;
	} rows[] = {
#define S(n, b)	{ n, b, sizeof b - 1 }
		S("swf plain", "FWS\012\030\0\0\0\0\0\0\0\0\0\0\0\0\0"),
		S("swf zlib", "CWS\012\100\0\0\0\170\234\0\0\0\0\0\0\0"),
		S("swf lzma", "ZWS\015\100\0\0\0\001\0\0\0\135\0\0\0\0"),
		S("chm", "ITSF\003\0\0\0\140\0\0\0"),
		S("vbe", "#@~^DgAAAA==x^#~@"),
		S("reg utf-16", "\377\376R\0E\0G\0E\0D\0I\0T\0004\0"),
		S("reg utf-8", "\357\273\277REGEDIT4\r\n"),
		S("wsh", " [ScriptFile]\r\nPath=a.vbs\r\n"),
		S("hta", "<html><HTA:APPLICATION ID=a>"),
		S("wsf", "<job id=a><script>x</script></job>"),
		S("footer", "koly\0\0\0\004conectix"),
#undef S
	};
	size_t		 i, cut;
	unsigned	 odd = 0;

	for (i = 0; i < T_NCASES(rows); i++)
		for (cut = 0; cut <= rows[i].len; cut++) {
			unsigned char	*c = xmalloc(cut == 0 ? 1 : cut);
			const char	*got;

			memcpy(c, rows[i].bytes, cut);
			got = typer_detect(NULL, c, cut, NULL, 0);
			if (!truetype_known(got))
				odd++;
			got = typer_detect(shared_typer, c, cut, NULL, 0);
			if (!truetype_known(got))
				odd++;
			free(c);
		}
	t_check(t, odd == 0, "got %u unknown words, want 0", odd);
}

/* A docm with every byte of its central directory and end record
 * overwritten in turn: the member-name walk stays in bounds. */
static void
zip_damaged(struct t *t)
{
	unsigned char	*b;
	size_t		 len, i, from;
	unsigned	 odd = 0;
	char		 path[512];

	if (t_sh("cd '%s' && { %s; } >/dev/null 2>&1", t_tmpdir(t),
	    OOXML("printf 'x' > o/word/vbaProject.bin && ")) != 0) {
		t_error(t, "cannot build the docm");
		return;
	}
	snprintf(path, sizeof path, "%s/f", t_tmpdir(t));
	if ((b = t_read_file(path, &len)) == NULL) {
		t_error(t, "cannot read %s", path);
		return;
	}
	from = len > 400 ? len - 400 : 0;
	for (i = from; i < len; i++) {
		unsigned char	 keep = b[i];
		const char	*got;

		b[i] = 0xff;
		got = typer_detect(NULL, b, len, NULL, 0);
		if (strcmp(got, "office-macro") != 0 &&
		    strcmp(got, "office") != 0 && strcmp(got, "zip") != 0)
			odd++;
		got = typer_detect(NULL, b, i, NULL, 0);	/* cut here */
		if (!truetype_known(got))
			odd++;
		b[i] = keep;
	}
	t_check(t, odd == 0, "got %u odd answers, want 0", odd);
	free(b);
}

struct thr {
	const unsigned char	*b[3];
	size_t			 len[3];
	const char		*want[3];
	unsigned		 bad;
};

static void *
thr_main(void *arg)
{
	struct thr	*x = arg;
	unsigned	 i;
	char		 desc[128];

	for (i = 0; i < 300; i++) {
		unsigned	 k = i % 3;
		const char	*got = typer_detect(shared_typer, x->b[k],
		    x->len[k], i % 2 ? desc : NULL, sizeof desc);

		if (strcmp(got, x->want[k]) != 0)
			x->bad++;
	}
	return NULL;
}

/* typer_detect from many threads at once shares the handle pool. */
static void
threads(struct t *t)
{
	static const char text[] = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"
	    "END:VCALENDAR\r\n";
	static const char html[] = "<html><body>hello</body></html>\n";
	static const char bat[] = "@echo off\r\ndel x\r\n";
	pthread_t	 th[12];
	struct thr	 x[12];
	unsigned	 i, bad = 0;

	for (i = 0; i < 12; i++) {
		memset(&x[i], 0, sizeof x[i]);
		x[i].b[0] = (const unsigned char *)text;
		x[i].len[0] = sizeof text - 1;
		x[i].want[0] = "calendar";
		x[i].b[1] = (const unsigned char *)html;
		x[i].len[1] = sizeof html - 1;
		x[i].want[1] = "html";
		x[i].b[2] = (const unsigned char *)bat;
		x[i].len[2] = sizeof bat - 1;
		x[i].want[2] = "script";
		if (pthread_create(&th[i], NULL, thr_main, &x[i]) != 0)
			abort();
	}
	for (i = 0; i < 12; i++) {
		pthread_join(th[i], NULL);
		bad += x[i].bad;
	}
	t_check(t, bad == 0, "got %u wrong answers from threads, want 0",
	    bad);
}

static void
timing(struct t *t)
{
	unsigned char	*zip, *txt;
	size_t		 zl, tl;
	uint64_t	 t0;
	int		 i;
	const char	*gz = "", *gt = "";
	char		 path[512];

	if (t_sh("cd '%s' && head -c 700000 /dev/urandom | base64 > big.txt "
	    "&& head -c 300000 /dev/urandom > rnd && "
	    "zip -q x.zip big.txt rnd", t_tmpdir(t)) != 0) {
		t_error(t, "cannot build the zip");
		return;
	}
	snprintf(path, sizeof path, "%s/x.zip", t_tmpdir(t));
	zip = t_read_file(path, &zl);
	snprintf(path, sizeof path, "%s/big.txt", t_tmpdir(t));
	txt = t_read_file(path, &tl);
	if (zip == NULL || txt == NULL) {
		t_error(t, "cannot read the files");
		goto out;
	}
	t0 = clock_ms();
	for (i = 0; i < 100000; i++)
		gz = typer_detect(shared_typer, zip, zl, NULL, 0);
	t_log(t, "typer_detect on a %zu-byte zip: %.3f us", zl,
	    (double)(clock_ms() - t0) / 100);
	t0 = clock_ms();
	for (i = 0; i < 100; i++)
		gt = typer_detect(shared_typer, txt, tl, NULL, 0);
	t_log(t, "typer_detect on %zu bytes of text (libmagic): %.2f ms", tl,
	    (double)(clock_ms() - t0) / 100);
	t_check(t, strcmp(gz, "zip") == 0 && strcmp(gt, "text") == 0,
	    "got %s and %s, want zip and text", gz, gt);
out:
	free(zip);
	free(txt);
}

/* The extension table: known words only; the extensions whose type would
 * also be ordinary mail's have none. */
static void
extension_table(struct t *t)
{
	static const struct {
		const char	*ext, *want;	/* first word or NULL */
	} rows[] = {
		{ "exe", "exe-pe" }, { "EXE", "exe-pe" }, { "com", "exe-dos" },
		{ "swf", "swf" }, { "chm", "chm" }, { "iso", "iso" },
		{ "img", "iso" }, { "vhd", "disk-image" },
		{ "vhdx", "disk-image" }, { "jar", "jar" }, { "msi", "msi" },
		{ "lnk", "shortcut" }, { "vbe", "script" }, { "hta", "script" },
		{ "dmg", "dmg" }, { "dot", NULL }, { "pot", NULL },
		{ "eml", NULL }, { "shs", NULL }, { "pdf", NULL },
		{ "docx", NULL }, { "", NULL },
	};
	const char *const	*w;
	size_t			 i;

	for (i = 0; i < T_NCASES(rows); i++) {
		w = truetype_of_extension(rows[i].ext);
		if (rows[i].want == NULL)
			t_check(t, w == NULL, ".%s: got %s, want no type",
			    rows[i].ext, w != NULL ? w[0] : "");
		else
			t_check(t, w != NULL && strcmp(w[0], rows[i].want) == 0,
			    ".%s: got %s, want %s", rows[i].ext,
			    w != NULL ? w[0] : "no type", rows[i].want);
		for (; w != NULL && *w != NULL; w++)
			t_check(t, truetype_known(*w),
			    ".%s: %s is not in the vocabulary", rows[i].ext,
			    *w);
	}
	t_check(t, truetype_of_extension(NULL) == NULL,
	    "NULL: got a type, want none");
}

/*
 * The default blocked_types covers the true type of every default blocked
 * extension the typer recognises; taking types away opens gaps (what
 * "portcullis check" warns about), and the office/email types of .dot,
 * .pot and .eml never count as gaps.
 */
static void
default_types_cover_extensions(struct t *t)
{
	static const struct policy_override narrow = {
		"attachments.blocked_types", "exe-pe"
	};
	static const char *const want_gaps[] = {
		"exe-dos", "script", "shortcut", "swf", "chm", "iso",
		"disk-image", "msi", "jar",
	};
	struct policy	*pol = NULL;
	char		*errs = NULL;
	const char	*gaps[64];
	size_t		 n, i, k;

	if (policy_load_string("", "t.ini", NULL, 0, &pol, &errs) == -1) {
		t_error(t, "default policy: %s", errs);
		free(errs);
		return;
	}
	n = truetype_gaps(pol->blocked_extensions.v,
	    pol->blocked_extensions.n, pol->blocked_types.v,
	    pol->blocked_types.n, gaps, T_NCASES(gaps));
	t_check(t, n == 0, "default: got %zu gaps (first %s), want 0", n,
	    n > 0 ? gaps[0] : "-");
	policy_unref(&pol);
	if (policy_load_string("", "t.ini", &narrow, 1, &pol, &errs) == -1) {
		t_error(t, "narrow policy: %s", errs);
		free(errs);
		return;
	}
	n = truetype_gaps(pol->blocked_extensions.v,
	    pol->blocked_extensions.n, pol->blocked_types.v,
	    pol->blocked_types.n, gaps, T_NCASES(gaps));
	t_check(t, n == T_NCASES(want_gaps), "exe-pe only: got %zu gaps, "
	    "want %zu", n, T_NCASES(want_gaps));
	for (i = 0; i < T_NCASES(want_gaps); i++) {
		for (k = 0; k < n && k < T_NCASES(gaps); k++)
			if (strcmp(gaps[k], want_gaps[i]) == 0)
				break;
		t_check(t, k < n, "exe-pe only: %s missing from the gaps",
		    want_gaps[i]);
	}
	for (k = 0; k < n && k < T_NCASES(gaps); k++)
		t_check(t, strcmp(gaps[k], "office") != 0 &&
		    strcmp(gaps[k], "email") != 0 &&
		    strcmp(gaps[k], "exe-pe") != 0,
		    "exe-pe only: got gap %s, want none", gaps[k]);
	n = truetype_gaps(pol->blocked_extensions.v,
	    pol->blocked_extensions.n, pol->blocked_types.v,
	    pol->blocked_types.n, gaps, 2);
	t_check(t, n == T_NCASES(want_gaps), "room for 2: got %zu, want %zu",
	    n, T_NCASES(want_gaps));
	policy_unref(&pol);
}

static const struct t_case other_cases[] = {
	T_CASE(vocabulary),
	T_CASE(extension_table),
	T_CASE(default_types_cover_extensions),
	T_CASE(empty_and_tiny),
	T_CASE(description),
	T_CASE(ole_truncated),
	T_CASE(signatures_truncated),
	T_CASE(zip_damaged),
	T_CASE(threads),
	T_CASE(timing),
};

int
main(int argc, char **argv)
{
	struct t_case	cases[T_NCASES(cases_tab) + T_NCASES(other_cases)];
	struct err	err = ERR_INIT;
	size_t		i, n = 0;
	int		rc;

	if (typer_new(&shared_typer, &err) == -1) {
		printf("typer_new: %s\n0 passed, 1 failed\n", err.msg);
		return 1;
	}
	for (i = 0; i < T_NCASES(cases_tab); i++) {
		cases[n].name = cases_tab[i].name;
		cases[n++].fn = row_fns[i];
	}
	for (i = 0; i < T_NCASES(other_cases); i++)
		cases[n++] = other_cases[i];
	rc = t_main(argc, argv, cases, n);
	typer_free(&shared_typer);
	return rc;
}
