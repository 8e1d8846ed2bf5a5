/*
 * cxx_test: nfq_rs.h from C++17 (-Wall -Wextra -Werror): RAII wrappers around the opaque
 * handles, a static member function as the callback, a few real packets.
 *
 *   cxx_test NSNAME     (scripts/test-c.sh added the NFQUEUE rule for UDP port 9030 there)
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#include <nfq_rs.h>
#include <nfq_rs.h> /* the header may be included twice */

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "nstest.h"

static_assert(NFQ_RS_QUEUE(2) == ((2 << 16) | NFQ_RS_QUEUE_CODE), "NFQ_RS_QUEUE");
static_assert(NFQ_RS_QUEUE(65535) == static_cast<int>(0xffff0003u), "NFQ_RS_QUEUE(65535)");
static_assert(std::is_same<decltype(&nfq_rs_open), int (*)(const nfq_rs_config *, nfq_rs_queue **)>::value,
              "nfq_rs_open signature");
static_assert(std::is_same<nfq_rs_callback, int32_t (*)(nfq_rs_packet *, void *)>::value, "callback type");

namespace {

struct ConfigDeleter {
    void operator()(nfq_rs_config *c) const { nfq_rs_config_free(c); }
};
struct QueueDeleter {
    void operator()(nfq_rs_queue *q) const { nfq_rs_close(q); }
};
using ConfigPtr = std::unique_ptr<nfq_rs_config, ConfigDeleter>;
using QueuePtr = std::unique_ptr<nfq_rs_queue, QueueDeleter>;

std::string last_error(const nfq_rs_queue *q)
{
    int n = nfq_rs_last_error(q, nullptr, 0);
    std::string s(static_cast<size_t>(n > 0 ? n : 0) + 1, '\0');
    nfq_rs_last_error(q, &s[0], s.size());
    s.resize(static_cast<size_t>(n > 0 ? n : 0));
    return s;
}

class Collector {
public:
    static int32_t on_packet(nfq_rs_packet *pkt, void *user)
    {
        auto *self = static_cast<Collector *>(user);
        size_t len = 0;
        const uint8_t *p = nfq_rs_packet_payload(pkt, &len);
        self->ids.push_back(nfq_rs_packet_id(pkt));
        if (p && len > 28) self->payloads.emplace_back(reinterpret_cast<const char *>(p) + 28, len - 28);
        return self->ids.size() % 2 ? NFQ_RS_ACCEPT : NFQ_RS_DROP;
    }

    std::vector<uint32_t> ids;
    std::vector<std::string> payloads;
};

} // namespace

int main(int argc, char **argv)
{
    if (argc != 2) {
        std::fprintf(stderr, "usage: cxx_test NSNAME\n");
        return 2;
    }
    const std::string nspath = std::string("/var/run/netns/") + argv[1];

    ConfigPtr cfg(nfq_rs_config_new(30));
    CHECK(cfg != nullptr, "config_new");
    if (!cfg) return 1;
    CHECK_RC(nfq_rs_config_set_netns_path(cfg.get(), nspath.c_str()), NFQ_RS_OK);
    CHECK_RC(nfq_rs_config_set_copy_mode(cfg.get(), NFQ_RS_COPY_PACKET, 256), NFQ_RS_OK);

    nfq_rs_queue *raw = nullptr;
    int rc = nfq_rs_open(cfg.get(), &raw);
    if (rc != NFQ_RS_OK) {
        std::fprintf(stderr, "nfq_rs_open: %s: %s\n", nfq_rs_strerror(rc), last_error(nullptr).c_str());
        return 1;
    }
    QueuePtr q(raw);
    cfg.reset();

    Collector col;
    CHECK_RC(nfq_rs_set_callback(q.get(), &Collector::on_packet, &col), NFQ_RS_OK);

    int rx = ns_udp_socket(nspath.c_str(), 9030), tx = ns_udp_socket(nspath.c_str(), 0);
    CHECK(rx >= 0 && tx >= 0, "sockets");
    const int N = 6;
    for (int i = 0; i < N; i++) {
        std::string m = "cxx-" + std::to_string(i);
        CHECK(udp_send(tx, 9030, m.data(), m.size()) == 0, "send");
    }

    std::vector<std::string> arrived;
    long long end = now_ms() + 5000;
    while (now_ms() < end && (col.ids.size() < static_cast<size_t>(N) || arrived.size() < N / 2)) {
        int r = nfq_rs_dispatch(q.get(), 10);
        CHECK(r >= 0, "dispatch: %s", last_error(q.get()).c_str());
        if (r < 0) break;
        char b[256];
        int n;
        while ((n = udp_recv(rx, b, sizeof b, 0)) >= 0) arrived.emplace_back(b, static_cast<size_t>(n));
    }
    /* Give dropped packets a moment to (not) arrive. */
    char b[256];
    int n;
    while ((n = udp_recv(rx, b, sizeof b, 200)) >= 0) arrived.emplace_back(b, static_cast<size_t>(n));

    CHECK(col.ids.size() == static_cast<size_t>(N), "callback saw %zu packets (want %d)", col.ids.size(), N);
    CHECK(arrived.size() == static_cast<size_t>(N / 2), "%zu arrived (want %d: every other one dropped)",
          arrived.size(), N / 2);
    for (size_t i = 0; i < arrived.size(); i++)
        CHECK(arrived[i] == "cxx-" + std::to_string(2 * i), "arrived[%zu] = %s", i, arrived[i].c_str());
    for (size_t i = 0; i < col.payloads.size(); i++)
        CHECK(col.payloads[i] == "cxx-" + std::to_string(i), "payload[%zu] = %s", i, col.payloads[i].c_str());

    uint64_t received = 0;
    CHECK_RC(nfq_rs_stat(q.get(), NFQ_RS_STAT_PACKETS_RECEIVED, &received), NFQ_RS_OK);
    CHECK(received == static_cast<uint64_t>(N), "packets_received %llu", static_cast<unsigned long long>(received));

    close(rx);
    close(tx);
    std::printf("cxx_test: %zu packets, %zu accepted and arrived, %d failed checks\n", col.ids.size(),
                arrived.size(), g_failures);
    return g_failures ? 1 : 0;
}
