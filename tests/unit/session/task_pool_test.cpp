// TaskPool: results and exceptions reach the futures, the thread bound holds, workers are
// reused, queued work still runs at destruction.
#include "rdns/session/task_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <stdexcept>

namespace rdns::session {
namespace {

using namespace std::chrono_literals;

TEST(TaskPool, ResultsAndExceptionsReachTheFutures) {
  TaskPool pool(2);
  auto six = pool.submit([] { return 6; });
  auto boom = pool.submit([]() -> int { throw std::runtime_error("boom"); });
  EXPECT_EQ(six.get(), 6);
  EXPECT_THROW((void)boom.get(), std::runtime_error);
}

TEST(TaskPool, NoMoreThreadsThanTheBoundAndWorkersAreReused) {
  TaskPool pool(3);
  std::atomic<int> running{0};
  std::atomic<int> most{0};
  std::vector<std::shared_future<std::thread::id>> futures;
  for (int i = 0; i < 50; ++i) {
    futures.push_back(pool.submit([&] {
      const int now = ++running;
      int seen = most.load();
      while (now > seen && !most.compare_exchange_weak(seen, now)) {
      }
      std::this_thread::sleep_for(1ms);
      --running;
      return std::this_thread::get_id();
    }));
  }
  std::set<std::thread::id> threads;
  for (auto& f : futures) threads.insert(f.get());
  EXPECT_LE(most.load(), 3);
  EXPECT_LE(threads.size(), 3U);
  EXPECT_LE(pool.threads(), 3U);
  // Sequential work runs on the threads already there.
  for (int i = 0; i < 20; ++i) (void)pool.submit([] { return 0; }).get();
  EXPECT_LE(pool.threads(), 3U);
}

TEST(TaskPool, WorkRunsInParallelUpToTheBound) {
  TaskPool pool(4);
  std::atomic<int> arrived{0};
  std::vector<std::shared_future<bool>> futures;
  for (int i = 0; i < 4; ++i) {
    futures.push_back(pool.submit([&] {
      ++arrived;
      const auto deadline = std::chrono::steady_clock::now() + 10s;
      while (arrived.load() < 4 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(1ms);
      }
      return arrived.load() == 4;
    }));
  }
  for (auto& f : futures) EXPECT_TRUE(f.get());  // all four waited for each other
}

TEST(TaskPool, QueuedWorkRunsBeforeTheDestructorReturns) {
  std::atomic<int> done{0};
  {
    TaskPool pool(1);
    for (int i = 0; i < 10; ++i) {
      (void)pool.submit([&] {
        std::this_thread::sleep_for(1ms);
        return ++done;
      });
    }
  }
  EXPECT_EQ(done.load(), 10);
}

}  // namespace
}  // namespace rdns::session
