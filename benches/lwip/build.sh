#!/usr/bin/env bash
# Builds lwIP's httpd for the Linux TAP into target/lwip/ (issue 11: the
# lwIP rows of benches/http.sh --lwip, equal pages, same box, same run).
#
#   LWIP_SRC=PATH|URL benches/lwip/build.sh
#
# LWIP_SRC is an lwIP checkout (used as it is), or a git repository (a path
# or URL, cloned at the pinned commit below); by default the upstream URL.
# The build: lwIP's core (IPv4, ARP, ICMP, TCP), the unix port's tapif
# netif and sys_arch (no threads: NO_SYS=1, benches/lwip/lwipopts.h),
# src/apps/http/httpd.c with SSI and HTTP/1.1 keep-alive, and a file
# system made by lwIP's makefsdata (HTTP/1.1 heads, `-11`) from our pages:
#   /  = index.shtml: web/index.html with each {{tag}} turned into an SSI
#        tag <!--#tag--> that benches/lwip/main.c fills on every request
#   /favicon.ico, /app.js: our web/ files, byte for byte
# Output: target/lwip/lwip-httpd (run it as
# `PRECONFIGURED_TAPIF=tap0 target/lwip/lwip-httpd 10.79.0.2 255.255.255.0
# 10.79.0.1` where tap0 exists and is up). Needs git and gcc only
# (`apt-get install git gcc`; no cmake: the file lists are short).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$ROOT/benches/lwip"
OUT="$ROOT/target/lwip"
COMMIT=3d896ba0a37ff3ce73270ca5e230707fe47f60e3 # master, 2026-06-16
LWIP_SRC=${LWIP_SRC:-https://github.com/lwip-tcpip/lwip.git}
die() { echo "lwip/build.sh: $*" >&2; exit 1; }
for t in git gcc; do command -v "$t" >/dev/null || die "needs $t (apt-get install $t)"; done

mkdir -p "$OUT"
if [[ -d $LWIP_SRC/src/core ]]; then
    lwip=$(cd "$LWIP_SRC" && pwd)
else
    lwip="$OUT/lwip"
    if [[ $(git -C "$lwip" rev-parse HEAD 2>/dev/null || true) != "$COMMIT" ]]; then
        rm -rf "$lwip"
        git clone --quiet --no-checkout "$LWIP_SRC" "$lwip"
        git -C "$lwip" -c advice.detachedHead=false checkout --quiet "$COMMIT"
    fi
fi
echo "lwIP: $lwip ($(git -C "$lwip" rev-parse HEAD 2>/dev/null || echo 'not a git checkout'))"

src="$lwip/src"
port="$lwip/contrib/ports/unix/port"
CFLAGS=(-O2 -g -std=gnu99 -w -I"$HERE" -I"$src/include" -I"$port/include" -I"$OUT")

# The file system: our pages, SSI tags in lwIP's syntax.
rm -rf "$OUT/fs"
mkdir -p "$OUT/fs"
sed -e 's/{{device_name}}/<!--#name-->/g' -e 's/{{frames_in}}/<!--#frin-->/g' \
    -e 's/{{frames_out}}/<!--#frout-->/g' -e 's/{{tx_errors}}/<!--#txerr-->/g' \
    -e 's/{{echo_replies}}/<!--#echo-->/g' -e 's/{{http_responses}}/<!--#http-->/g' \
    -e 's/{{\([a-z]*\)}}/<!--#\1-->/g' "$ROOT/web/index.html" >"$OUT/fs/index.shtml"
! grep -q '{{' "$OUT/fs/index.shtml" || die "a tag of web/index.html has no SSI name"
cp "$ROOT/web/favicon.ico" "$ROOT/web/app.js" "$OUT/fs/"

gcc "${CFLAGS[@]}" -o "$OUT/makefsdata" "$src/apps/http/makefsdata/makefsdata.c"
(cd "$OUT" && ./makefsdata fs -11 -f:"$OUT/fsdata_custom.c" >/dev/null)

gcc "${CFLAGS[@]}" -o "$OUT/lwip-httpd" "$HERE/main.c" \
    "$src"/core/{init,def,inet_chksum,ip,mem,memp,netif,pbuf,stats,sys,tcp,tcp_in,tcp_out,timeouts}.c \
    "$src"/core/ipv4/{etharp,icmp,ip4,ip4_addr,ip4_frag}.c \
    "$src/netif/ethernet.c" "$src/apps/http/httpd.c" "$src/apps/http/fs.c" \
    "$port/sys_arch.c" "$port/netif/tapif.c" -pthread
echo "built $OUT/lwip-httpd"
