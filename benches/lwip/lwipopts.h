/* lwIP options for benches/lwip: the unix port without threads (NO_SYS),
 * one tapif netif, IPv4 + ARP + ICMP + TCP, and the httpd app with SSI and
 * HTTP/1.1 keep-alive. Sizes are lwIP's own defaults where they exist and
 * generous elsewhere: this build is the comparison's lwIP, not a
 * small-RAM configuration. */
#ifndef LWIP_LWIPOPTS_H
#define LWIP_LWIPOPTS_H

#define NO_SYS                          1
#define SYS_LIGHTWEIGHT_PROT            0
#define LWIP_SOCKET                     0
#define LWIP_NETCONN                    0
#define LWIP_IPV4                       1
#define LWIP_IPV6                       0
#define LWIP_ARP                        1
#define LWIP_ETHERNET                   1
#define LWIP_ICMP                       1
#define LWIP_RAW                        0
#define LWIP_UDP                        0
#define LWIP_TCP                        1
#define LWIP_DHCP                       0
#define LWIP_DNS                        0
#define LWIP_IGMP                       0
#define LWIP_STATS                      0
#define LWIP_HAVE_LOOPIF                0
#define LWIP_NETIF_STATUS_CALLBACK      0

#define MEM_ALIGNMENT                   4
#define MEM_SIZE                        (64 * 1024)
#define MEMP_NUM_PBUF                   32
#define MEMP_NUM_TCP_PCB                8
#define MEMP_NUM_TCP_PCB_LISTEN         2
#define MEMP_NUM_TCP_SEG                32
#define PBUF_POOL_SIZE                  32

#define TCP_MSS                         1460
#define TCP_WND                         (4 * TCP_MSS)
#define TCP_SND_BUF                     (4 * TCP_MSS)
#define TCP_SND_QUEUELEN                (4 * TCP_SND_BUF / TCP_MSS)
#define TCP_LISTEN_BACKLOG              0

/* httpd: files from makefsdata (HTTP/1.1 heads made at build time), SSI
 * tags filled by benches/lwip/main.c's handler for every request, HTTP/1.1
 * keep-alive for files whose head has a Content-Length (lwIP never keeps
 * an SSI page alive: its length is unknown). The tag itself is not copied
 * to the output (as our {{tag}} is not). */
#define HTTPD_USE_CUSTOM_FSDATA         1
#define LWIP_HTTPD_SSI                  1
#define LWIP_HTTPD_SSI_INCLUDE_TAG      0
#define LWIP_HTTPD_SUPPORT_11_KEEPALIVE 1
/* LWIP_HTTPD_DYNAMIC_HEADERS: lwIP's default (0), left undefined here
 * because makefsdata.c sets it to 1 for itself before including this file. */
#define LWIP_HTTPD_CGI                  0
#define LWIP_HTTPD_SUPPORT_POST         0

#endif /* LWIP_LWIPOPTS_H */
