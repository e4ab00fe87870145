/* benches/lwip/main.c: lwIP's httpd on a Linux TAP, the lwIP side of
 * benches/http.sh's host comparison (issue 11).
 *
 *   PRECONFIGURED_TAPIF=tap0 lwip-httpd ADDRESS NETMASK GATEWAY
 *
 * lwIP's unix port without threads (NO_SYS=1): one loop that waits for a
 * frame on the TAP (tapif_select, bounded by the next lwIP timeout) and runs
 * lwIP's timers. httpd serves the makefsdata file system; its SSI handler
 * fills index.shtml's tags from the device's own state on every request,
 * as our reference device renders `/`: addresses from the netif, uptime
 * from sys_now(), frame counters kept by wrappers around the netif's input
 * and output, and the number of pages rendered; the values are formatted
 * as ours are (same lengths where the state is the same). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lwip/init.h"
#include "lwip/netif.h"
#include "lwip/ip4_addr.h"
#include "lwip/sys.h"
#include "lwip/timeouts.h"
#include "lwip/apps/httpd.h"
#include "netif/ethernet.h"
#include "netif/tapif.h"

static struct netif tap;
static netif_input_fn tap_input;
static netif_linkoutput_fn tap_output;
static u32_t frames_in, frames_out, pages, booted;

static err_t counted_input(struct pbuf *p, struct netif *netif)
{
  frames_in++;
  return tap_input(p, netif);
}

static err_t counted_output(struct netif *netif, struct pbuf *p)
{
  err_t err = tap_output(netif, p);
  if (err == ERR_OK) {
    frames_out++;
  }
  return err;
}

/* The tags of fs/index.shtml, in the order of the handler's cases. */
static const char *tags[] = {
  "name", "ip", "gateway", "dns", "dhcp", "lease", "mac", "uptime", "time",
  "frin", "frout", "dropped", "txerr", "echo", "http",
};

static u16_t ssi(int index, char *out, int len)
{
  const ip4_addr_t *ip = netif_ip4_addr(&tap), *gw = netif_ip4_gw(&tap);
  const u8_t *mac = tap.hwaddr;
  u32_t s = (sys_now() - booted) / 1000;
  int n;
  switch (index) {
  case 0: n = snprintf(out, len, "EMBER"); break;
  case 1:
    n = snprintf(out, len, "%s/%d", ip4addr_ntoa(ip),
                 __builtin_popcount(ip4_addr_get_u32(netif_ip4_netmask(&tap))));
    break;
  case 2: n = snprintf(out, len, "%s", ip4addr_ntoa(gw)); break;
  case 3: n = snprintf(out, len, "none"); break;
  case 4: n = snprintf(out, len, "off"); break;
  case 5: n = snprintf(out, len, "none (static address)"); break;
  case 6:
    n = snprintf(out, len, "%02x:%02x:%02x:%02x:%02x:%02x",
                 mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
    break;
  case 7:
    n = snprintf(out, len, "%02lu:%02lu:%02lu", (unsigned long)(s / 3600),
                 (unsigned long)(s / 60 % 60), (unsigned long)(s % 60));
    break;
  case 8: n = snprintf(out, len, "not synchronised"); break;
  case 9: n = snprintf(out, len, "%lu", (unsigned long)frames_in); break;
  case 10: n = snprintf(out, len, "%lu", (unsigned long)frames_out); break;
  case 11: n = snprintf(out, len, "0"); break;
  case 12: n = snprintf(out, len, "0"); break;
  case 13: n = snprintf(out, len, "0"); break;
  case 14: n = snprintf(out, len, "%lu", (unsigned long)++pages); break;
  default: n = 0; break;
  }
  if (n < 0) {
    return 0;
  }
  return (u16_t)(n < len ? n : len - 1);
}

int main(int argc, char **argv)
{
  ip4_addr_t addr, mask, gw;
  if (argc != 4 || !ip4addr_aton(argv[1], &addr) || !ip4addr_aton(argv[2], &mask) ||
      !ip4addr_aton(argv[3], &gw) || getenv("PRECONFIGURED_TAPIF") == NULL) {
    fprintf(stderr, "usage: PRECONFIGURED_TAPIF=tap0 %s ADDRESS NETMASK GATEWAY\n", argv[0]);
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  lwip_init();
  booted = sys_now();
  if (netif_add(&tap, &addr, &mask, &gw, NULL, tapif_init, ethernet_input) == NULL) {
    fprintf(stderr, "lwip-httpd: netif_add failed\n");
    return 1;
  }
  tap_input = tap.input;
  tap.input = counted_input;
  tap_output = tap.linkoutput;
  tap.linkoutput = counted_output;
  netif_set_default(&tap);
  netif_set_up(&tap);
  http_set_ssi_handler(ssi, tags, LWIP_ARRAYSIZE(tags));
  httpd_init();
  printf("lwip-httpd: %s on %s\n", ip4addr_ntoa(&addr), getenv("PRECONFIGURED_TAPIF"));
  for (;;) {
    tapif_select(&tap);
    sys_check_timeouts();
  }
}
