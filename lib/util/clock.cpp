// The real clock singleton and FakeClock. Thread-safety: see clock.hpp (all methods from any
// thread; listeners run under FakeClock::listeners_mu_).
#include "orch/util/clock.hpp"

namespace orch::util {

namespace {

class RealClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::steady_clock::now(); }
  SystemTimePoint system_now() const override { return std::chrono::system_clock::now(); }
  // Real time passes by itself, so there is never a jump to report; ids are still unique so
  // callers can treat every clock alike.
  std::uint64_t add_listener(std::function<void()>) override { return next_id_.fetch_add(1) + 1; }
  void remove_listener(std::uint64_t) override {}

 private:
  std::atomic<std::uint64_t> next_id_{0};
};

}  // namespace

Clock& real_clock() {
  // Leaked on purpose: usable from other statics' destructors.
  static auto* clock = new RealClock();
  return *clock;
}

FakeClock::FakeClock()
    : FakeClock(TimePoint(std::chrono::seconds(1'000'000)),
                SystemTimePoint(std::chrono::seconds(1'704'067'200))) {}  // 2024-01-01T00:00:00Z

FakeClock::FakeClock(TimePoint start, SystemTimePoint system_start)
    : steady_start_(start), system_start_(system_start) {}

Clock::TimePoint FakeClock::now() const {
  return steady_start_ + std::chrono::nanoseconds(offset_ns_.load(std::memory_order_acquire));
}

Clock::SystemTimePoint FakeClock::system_now() const {
  return system_start_ + std::chrono::duration_cast<SystemTimePoint::duration>(std::chrono::nanoseconds(
                             offset_ns_.load(std::memory_order_acquire)));
}

std::uint64_t FakeClock::add_listener(std::function<void()> fn) {
  std::lock_guard lock(listeners_mu_);
  std::uint64_t id = next_id_++;
  listeners_.emplace(id, std::move(fn));
  return id;
}

void FakeClock::remove_listener(std::uint64_t id) {
  std::lock_guard lock(listeners_mu_);
  listeners_.erase(id);
}

void FakeClock::advance(std::chrono::nanoseconds d) {
  if (d.count() > 0) offset_ns_.fetch_add(d.count(), std::memory_order_acq_rel);
  std::lock_guard lock(listeners_mu_);
  for (auto& [id, fn] : listeners_) {
    if (fn) fn();
  }
}

std::size_t FakeClock::listener_count_for_test() const {
  std::lock_guard lock(listeners_mu_);
  return listeners_.size();
}

}  // namespace orch::util
