#pragma once
/// A bounded pool of worker threads for the synchronous SPF evaluations (libspf2 blocks on
/// each lookup): threads start on demand up to a bound and are kept, so a message costs no
/// thread creation; past the bound, work waits in order.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace rdns::session {

class TaskPool {
 public:
  /// At most `max_threads` (≥ 1) workers.
  explicit TaskPool(std::size_t max_threads);
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;
  TaskPool(TaskPool&&) = delete;
  TaskPool& operator=(TaskPool&&) = delete;
  /// Runs the work still queued, then joins the workers.
  ~TaskPool();

  /// Runs `work` on a worker; the future holds its result (or its exception).
  template <typename Work>
  [[nodiscard]] auto submit(Work work) -> std::shared_future<decltype(work())> {
    using Result = decltype(work());
    auto task = std::make_shared<std::packaged_task<Result()>>(std::move(work));
    auto future = task->get_future().share();
    post([task] { (*task)(); });
    return future;
  }

  [[nodiscard]] std::size_t threads() const;

 private:
  void post(std::function<void()> job);
  void work();

  const std::size_t max_threads_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;  // guarded by mutex_
  std::vector<std::thread> workers_;        // guarded by mutex_
  std::size_t idle_ = 0;                    // guarded by mutex_
  bool stopping_ = false;                   // guarded by mutex_
};

}  // namespace rdns::session
