/*
 * latency.c: a second, independent load generator for Parley's fixed-rate latency (issue 10), in the
 * shape of the one the issue was measured with: one thread, one epoll, plain C. It is not part of the
 * build; docs/BENCHMARKS.md ("Latency at a fixed rate") says how it was used.
 *
 *   gcc -O2 -o /tmp/latency tools/c-latency-client/latency.c
 *   /tmp/latency HOST PORT SUBSCRIBERS RATE WARMUP_S DURATION_S [ROOM]
 *
 * SUBSCRIBERS members and one publisher connect to ws://HOST:PORT/chat, say hello and join ROOM
 * (default: a fresh name). The publisher then sends RATE messages a second for WARMUP_S + DURATION_S
 * seconds; each text carries its send time (CLOCK_MONOTONIC, this process's own clock). Every
 * subscriber's receipt of a message sent in the last DURATION_S seconds is one latency sample. The
 * server must run with --no-rate-limits and a --max-connections-per-ip above SUBSCRIBERS.
 *
 * What it checks: every subscriber gets every message (a count per subscriber), nothing else.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define BUF 65536
#define MARK "~clat~"

enum state { UPGRADING, JOINING, JOINED };

struct conn {
    int fd;
    enum state state;
    size_t len;
    long received;
    unsigned char buf[BUF];
};

static struct conn *conns;
static int count;
static char host[256], room[64];
static int port;
static int64_t *samples;
static size_t nsamples, capsamples;
static int64_t window_from, window_to;
static long joined, closed_early;

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t) t.tv_sec * 1000000000 + t.tv_nsec;
}

static void die(const char *what) {
    perror(what);
    exit(2);
}

static void write_all(int fd, const unsigned char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                continue; /* tiny frames on an idle socket: the buffer frees at once */
            }
            die("write");
        }
        p += w;
        n -= (size_t) w;
    }
}

/* One masked client frame (RFC 6455 5.3) of opcode with payload p[0, n). */
static void send_frame(int fd, int opcode, const char *p, size_t n) {
    unsigned char f[16 + 1024];
    size_t h = 0;
    if (n > 1024) {
        fprintf(stderr, "frame too long\n");
        exit(2);
    }
    f[h++] = (unsigned char) (0x80 | opcode);
    if (n < 126) {
        f[h++] = (unsigned char) (0x80 | n);
    } else {
        f[h++] = 0x80 | 126;
        f[h++] = (unsigned char) (n >> 8);
        f[h++] = (unsigned char) n;
    }
    uint32_t key = (uint32_t) rand();
    unsigned char k[4] = {key >> 24, key >> 16, key >> 8, key};
    memcpy(f + h, k, 4);
    h += 4;
    for (size_t i = 0; i < n; i++) {
        f[h + i] = (unsigned char) p[i] ^ k[i % 4];
    }
    write_all(fd, f, h + n);
}

static void send_text(int fd, const char *text) {
    send_frame(fd, 1, text, strlen(text));
}

static int open_conn(int i, int ep) {
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *ai;
    char p[16];
    snprintf(p, sizeof p, "%d", port);
    if (getaddrinfo(host, p, &hints, &ai) != 0) {
        die("getaddrinfo");
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        die("connect");
    }
    freeaddrinfo(ai);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET /chat HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                     host, port);
    write_all(fd, (unsigned char *) req, (size_t) n);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    conns[i].fd = fd;
    conns[i].state = UPGRADING;
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t) i};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        die("epoll_ctl");
    }
    return fd;
}

static void record(int64_t sent, int64_t at) {
    if (sent < window_from || sent >= window_to) {
        return;
    }
    if (nsamples == capsamples) {
        capsamples = capsamples ? capsamples * 2 : 1 << 20;
        samples = realloc(samples, capsamples * sizeof *samples);
        if (!samples) {
            die("realloc");
        }
    }
    samples[nsamples++] = at - sent;
}

static void text(struct conn *c, const unsigned char *p, size_t n, int64_t at) {
    if (c->state == JOINING && n > 16 && memcmp(p, "{\"type\":\"joined\"", 16) == 0) {
        c->state = JOINED;
        joined++;
        return;
    }
    const unsigned char *m = memmem(p, n, MARK, sizeof MARK - 1);
    if (m) {
        int64_t sent = 0;
        for (m += sizeof MARK - 1; m < p + n && *m >= '0' && *m <= '9'; m++) {
            sent = sent * 10 + (*m - '0');
        }
        c->received++;
        if (c != &conns[count - 1]) { /* the publisher's own copy is not a subscriber's */
            record(sent, at);
        }
    }
}

/* Reads what the socket has; returns -1 when the connection ended. */
static int readable(struct conn *c, int i, int64_t *at) {
    for (;;) {
        ssize_t r = read(c->fd, c->buf + c->len, BUF - c->len);
        if (r == 0) {
            return -1;
        }
        if (r < 0) {
            return errno == EAGAIN ? 0 : -1;
        }
        *at = now_ns();
        c->len += (size_t) r;
        size_t off = 0;
        if (c->state == UPGRADING) {
            unsigned char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
            if (!end) {
                continue;
            }
            if (memcmp(c->buf, "HTTP/1.1 101", 12) != 0) {
                fprintf(stderr, "connection %d: upgrade refused: %.40s\n", i, c->buf);
                exit(2);
            }
            off = (size_t) (end + 4 - c->buf);
            c->state = JOINING;
            char hello[128], join[128];
            snprintf(hello, sizeof hello, "{\"type\":\"hello\",\"name\":\"c%d\"}", i);
            snprintf(join, sizeof join, "{\"type\":\"join\",\"room\":\"%s\"}", room);
            send_text(c->fd, hello);
            send_text(c->fd, join);
        }
        while (c->len - off >= 2) {
            unsigned char *f = c->buf + off;
            int op = f[0] & 0x0f;
            uint64_t plen = f[1] & 0x7f;
            size_t h = 2;
            if (plen == 126) {
                if (c->len - off < 4) break;
                plen = (uint64_t) f[2] << 8 | f[3];
                h = 4;
            } else if (plen == 127) {
                if (c->len - off < 10) break;
                plen = 0;
                for (int b = 0; b < 8; b++) plen = plen << 8 | f[2 + b];
                h = 10;
            }
            if (plen > BUF - 16) {
                fprintf(stderr, "connection %d: frame of %llu bytes\n", i, (unsigned long long) plen);
                exit(2);
            }
            if (c->len - off < h + plen) break;
            if (op == 1) {
                text(c, f + h, (size_t) plen, *at);
            } else if (op == 9) {
                send_frame(c->fd, 10, (const char *) f + h, (size_t) plen);
            } else if (op == 8) {
                return -1;
            }
            off += h + (size_t) plen;
        }
        memmove(c->buf, c->buf + off, c->len - off);
        c->len -= off;
    }
}

static int cmp(const void *a, const void *b) {
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return x < y ? -1 : x > y;
}

static double pct(double p) {
    size_t k = (size_t) (p / 100.0 * (double) (nsamples - 1));
    return samples[k] / 1e6;
}

int main(int argc, char **argv) {
    if (argc < 7) {
        fprintf(stderr, "usage: %s HOST PORT SUBSCRIBERS RATE WARMUP_S DURATION_S [ROOM]\n", argv[0]);
        return 2;
    }
    snprintf(host, sizeof host, "%s", argv[1]);
    port = atoi(argv[2]);
    int subscribers = atoi(argv[3]);
    int rate = atoi(argv[4]);
    int warmup = atoi(argv[5]), duration = atoi(argv[6]);
    if (argc > 7) {
        snprintf(room, sizeof room, "%s", argv[7]);
    } else {
        snprintf(room, sizeof room, "clat-%ld", (long) time(NULL));
    }
    srand((unsigned) now_ns());
    count = subscribers + 1; /* the last is the publisher */
    conns = calloc((size_t) count, sizeof *conns);
    int ep = epoll_create1(0);
    struct epoll_event evs[256];
    int64_t at = 0;
    for (int i = 0; i < count; i++) {
        open_conn(i, ep);
        if (i % 100 == 99) { /* let the handshakes through before opening more */
            int n = epoll_wait(ep, evs, 256, 0);
            for (int e = 0; e < n; e++) {
                if (readable(&conns[evs[e].data.u32], (int) evs[e].data.u32, &at) < 0) closed_early++;
            }
        }
    }
    int64_t deadline = now_ns() + 30LL * 1000000000;
    while (joined < count && now_ns() < deadline) {
        int n = epoll_wait(ep, evs, 256, 100);
        for (int e = 0; e < n; e++) {
            if (readable(&conns[evs[e].data.u32], (int) evs[e].data.u32, &at) < 0) closed_early++;
        }
    }
    if (joined < count) {
        fprintf(stderr, "only %ld of %d joined\n", joined, count);
        return 1;
    }
    fprintf(stderr, "%d joined %s; sending %d/s for %d s + %d s\n", count, room, rate, warmup, duration);

    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    struct itimerspec its = {.it_interval = {0, 1000000000L / rate}, .it_value = {0, 1000000000L / rate}};
    timerfd_settime(tfd, 0, &its, NULL);
    struct epoll_event tev = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
    epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &tev);
    int64_t start = now_ns();
    window_from = start + (int64_t) warmup * 1000000000;
    window_to = window_from + (int64_t) duration * 1000000000;
    int64_t drain_to = window_to + 3LL * 1000000000;
    long sent = 0, in_window = 0;
    struct conn *pub = &conns[count - 1];
    char msg[256], pad[101];
    memset(pad, 'x', 60);
    pad[60] = 0;
    while (now_ns() < drain_to) {
        int n = epoll_wait(ep, evs, 256, 50);
        for (int e = 0; e < n; e++) {
            uint32_t i = evs[e].data.u32;
            if (i == UINT32_MAX) {
                uint64_t ticks;
                if (read(tfd, &ticks, sizeof ticks) < 0) continue;
                int64_t t = now_ns();
                if (t >= window_to) continue;
                snprintf(msg, sizeof msg, "{\"type\":\"send\",\"room\":\"%s\",\"id\":\"m%ld\",\"text\":\"" MARK "%lld~%s\"}",
                         room, sent, (long long) t, pad);
                send_text(pub->fd, msg);
                sent++;
                if (t >= window_from) in_window++;
                continue;
            }
            if (readable(&conns[i], (int) i, &at) < 0) closed_early++;
        }
    }
    long short_members = 0;
    for (int i = 0; i < count - 1; i++) {
        if (conns[i].received != sent) short_members++;
    }
    qsort(samples, nsamples, sizeof *samples, cmp);
    printf("sent %ld messages, %ld in the measured window; %zu samples of %ld expected; "
           "%ld subscribers missed messages; %ld connections closed\n",
           sent, in_window, nsamples, in_window * subscribers, short_members, closed_early);
    if (nsamples > 0) {
        printf("latency p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, p99.9 %.3f ms, max %.3f ms\n", pct(50), pct(90), pct(99),
               pct(99.9), samples[nsamples - 1] / 1e6);
    }
    return short_members == 0 && closed_early == 0 ? 0 : 1;
}
