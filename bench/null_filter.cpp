// null-filter: a libmilter filter that does nothing but add one header at end of message.
// It asks the MTA to skip every step it can (SMFIP_NO*) and not to wait for a reply wherever
// the MTA allows (SMFIP_NR_*): the ceiling a libmilter filter can reach on this machine.
// Usage: null-filter SOCKET   (unix:/path or inet:PORT@HOST); SIGTERM stops it.

#include <dlfcn.h>
#include <libmilter/mfapi.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstdio>
#include <cstring>

// Note: libmilter answers end of message with two writes (the header, then "continue"); on a
// TCP socket with Nagle on, the second waits for the MTA's delayed ACK (~40 ms). rdns-milter
// turns Nagle off on its milter connections the same way (its accept() interposer); so does
// this filter, so that its TCP figure is a ceiling too. On a unix socket setsockopt just fails.
// NOLINTNEXTLINE(readability-inconsistent-declaration-parameter-name): glibc names them __fd...
extern "C" int accept(int fd, sockaddr* addr, socklen_t* length) {
  using Accept = int (*)(int, sockaddr*, socklen_t*);
  static const auto real = reinterpret_cast<Accept>(dlsym(RTLD_NEXT, "accept"));
  const int conn = real(fd, addr, length);
  if (conn >= 0) {
    const int one = 1;
    setsockopt(conn, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  return conn;
}

namespace {

sfsistat negotiate(SMFICTX* /*ctx*/, unsigned long f0, unsigned long f1, unsigned long /*f2*/,
                   unsigned long /*f3*/, unsigned long* pf0, unsigned long* pf1, unsigned long* pf2,
                   unsigned long* pf3) {
  constexpr unsigned long kWanted =
      SMFIP_NOCONNECT | SMFIP_NOHELO | SMFIP_NOMAIL | SMFIP_NORCPT | SMFIP_NOBODY | SMFIP_NOHDRS |
      SMFIP_NOEOH | SMFIP_NOUNKNOWN | SMFIP_NODATA | SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_MAIL |
      SMFIP_NR_RCPT | SMFIP_NR_DATA | SMFIP_NR_UNKN | SMFIP_NR_EOH | SMFIP_NR_BODY | SMFIP_NR_HDR;
  if ((f0 & SMFIF_ADDHDRS) == 0) return SMFIS_REJECT;
  *pf0 = SMFIF_ADDHDRS;
  *pf1 = f1 & kWanted;
  *pf2 = 0;
  *pf3 = 0;
  return SMFIS_CONTINUE;
}

sfsistat end_of_message(SMFICTX* ctx) {
  char name[] = "X-Null-Filter";
  char value[] = "seen";
  smfi_addheader(ctx, name, value);
  return SMFIS_CONTINUE;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 || std::strcmp(argv[1], "--help") == 0) {
    std::fprintf(stderr, "usage: null-filter unix:PATH|inet:PORT@HOST\n");
    return 2;
  }
  char name[] = "null-filter";
  smfiDesc desc{};
  desc.xxfi_name = name;
  desc.xxfi_version = SMFI_VERSION;
  desc.xxfi_flags = SMFIF_ADDHDRS;
  desc.xxfi_eom = end_of_message;
  desc.xxfi_negotiate = negotiate;
  if (smfi_setconn(argv[1]) == MI_FAILURE || smfi_register(desc) == MI_FAILURE ||
      smfi_opensocket(true) == MI_FAILURE) {
    std::fprintf(stderr, "null-filter: cannot listen on %s\n", argv[1]);
    return 1;
  }
  return smfi_main() == MI_SUCCESS ? 0 : 1;
}
