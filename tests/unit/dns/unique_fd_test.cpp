// UniqueFd: closes what it owns exactly once, moves ownership, releases on request.

#include "rdns/dns/unique_fd.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <utility>

namespace rdns::dns {
namespace {

bool is_open(int fd) {
  return fcntl(fd, F_GETFD) != -1;
}

int new_fd() {
  return open("/dev/null", O_RDONLY | O_CLOEXEC);
}

TEST(UniqueFd, ClosesOnDestruction) {
  int raw = -1;
  {
    const UniqueFd fd(new_fd());
    raw = fd.get();
    ASSERT_TRUE(fd);
    EXPECT_TRUE(is_open(raw));
  }
  EXPECT_FALSE(is_open(raw));
}

TEST(UniqueFd, DefaultOwnsNothing) {
  const UniqueFd fd;
  EXPECT_FALSE(fd);
  EXPECT_EQ(fd.get(), -1);
}

TEST(UniqueFd, MoveTransfersOwnership) {
  UniqueFd a(new_fd());
  const int raw = a.get();
  UniqueFd b(std::move(a));
  EXPECT_EQ(b.get(), raw);
  EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move): moved-from state is specified
  UniqueFd c;
  c = std::move(b);
  EXPECT_EQ(c.get(), raw);
  EXPECT_TRUE(is_open(raw));
  c.reset();
  EXPECT_FALSE(is_open(raw));
}

TEST(UniqueFd, ResetClosesTheOldDescriptor) {
  UniqueFd fd(new_fd());
  const int first = fd.get();
  fd.reset(new_fd());  // opened before the old one closes: a different number
  ASSERT_NE(fd.get(), first);
  EXPECT_FALSE(is_open(first));
  EXPECT_TRUE(is_open(fd.get()));
}

TEST(UniqueFd, ReleaseGivesUpOwnership) {
  int raw = -1;
  {
    UniqueFd fd(new_fd());
    raw = fd.release();
    EXPECT_FALSE(fd);
  }
  EXPECT_TRUE(is_open(raw));
  close(raw);
}

}  // namespace
}  // namespace rdns::dns
