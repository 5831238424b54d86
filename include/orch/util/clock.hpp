// Clock: the one way liborch code reads time, so tests can drive time by hand.
//
// - real_clock(): std::chrono::steady_clock / system_clock, a process-wide singleton.
// - FakeClock: starts at a fixed instant and moves only when a test calls advance().
//   Code that waits for a clock deadline (a work queue's delayed items) registers a listener
//   and is woken when a fake clock jumps; a real clock never calls listeners, time simply passes.
//
// Thread-safety: every method of every Clock may be called from any thread. Listeners run on the
// thread that advances the clock, while the clock's listener mutex is held; a listener must not
// call add_listener/remove_listener (lock order: FakeClock::listeners_mu_, then whatever the
// listener locks).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>

namespace orch::util {

class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  using SystemTimePoint = std::chrono::system_clock::time_point;

  virtual ~Clock() = default;
  // Monotonic time, for durations and deadlines.
  virtual TimePoint now() const = 0;
  // Wall-clock time, for timestamps written into objects.
  virtual SystemTimePoint system_now() const = 0;
  // Registers `fn`, called after every jump of a fake clock. Returns an id for remove_listener.
  // A real clock keeps the registration but never calls it.
  virtual std::uint64_t add_listener(std::function<void()> fn) = 0;
  // Unregisters; once it returns, the listener is not running and will not be called again.
  // Unknown ids are ignored.
  virtual void remove_listener(std::uint64_t id) = 0;
};

// The process-wide real clock. Never destroyed (safe to use from static destructors).
Clock& real_clock();

// A clock that moves only when told to. Starts at steady 1'000'000 s after the steady epoch and at
// system time 2024-01-01T00:00:00Z unless given other start points.
class FakeClock final : public Clock {
 public:
  FakeClock();
  FakeClock(TimePoint start, SystemTimePoint system_start);

  TimePoint now() const override;
  SystemTimePoint system_now() const override;
  std::uint64_t add_listener(std::function<void()> fn) override;
  void remove_listener(std::uint64_t id) override;

  // Moves both times forward by `d` (negative durations are ignored), then calls every listener.
  void advance(std::chrono::nanoseconds d);
  // Number of registered listeners (tests check that users unregister).
  std::size_t listener_count_for_test() const;

 private:
  // Const after construction.
  const TimePoint steady_start_;
  const SystemTimePoint system_start_;
  // Nanoseconds since the start points; lock-free so now() never takes a lock.
  std::atomic<std::int64_t> offset_ns_{0};

  mutable std::mutex listeners_mu_;  // lock order: first; listeners lock their own mutexes after
  // Guarded by listeners_mu_.
  std::map<std::uint64_t, std::function<void()>> listeners_;
  std::uint64_t next_id_ = 1;
};

}  // namespace orch::util
