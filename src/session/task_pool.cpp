#include "rdns/session/task_pool.h"

#include <algorithm>

namespace rdns::session {

TaskPool::TaskPool(std::size_t max_threads) : max_threads_(std::max<std::size_t>(1, max_threads)) {}

TaskPool::~TaskPool() {
  std::vector<std::thread> workers;
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
    workers.swap(workers_);
  }
  wake_.notify_all();
  for (auto& worker : workers) worker.join();
}

void TaskPool::post(std::function<void()> job) {
  {
    const std::lock_guard lock(mutex_);
    jobs_.push_back(std::move(job));
    // Note: a new worker only when none is idle; an idle one may not have taken earlier jobs
    // yet, so count the queue against the idle ones.
    if (jobs_.size() > idle_ && workers_.size() < max_threads_) {
      workers_.emplace_back([this] { work(); });
    }
  }
  wake_.notify_one();
}

void TaskPool::work() {
  std::unique_lock lock(mutex_);
  for (;;) {
    ++idle_;
    wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
    --idle_;
    if (jobs_.empty()) return;  // stopping, nothing left
    auto job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    job();
    lock.lock();
  }
}

std::size_t TaskPool::threads() const {
  const std::lock_guard lock(mutex_);
  return workers_.size();
}

}  // namespace rdns::session
