// LeaderElector (see leader_election.hpp). Thread-safety: the elector's thread runs the loop;
// mu_ guards the observation and is the condition variable's mutex (stop() and the clock's
// listener wake sleeps through it); lifecycle_mu_ serializes start() and stop().
#include "orch/controller/leader_election.hpp"

#include "orch/util/log.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "orch/api/time.hpp"
#include "orch/client/resource.hpp"

namespace orch::controller {

namespace {

// The component a lease's holder logs as: "kube-scheduler" -> "scheduler".
std::string lease_component(std::string_view lease) {
  if (lease.starts_with("kube-")) lease.remove_prefix(5);
  return std::string(lease);
}

}  // namespace

namespace json = boost::json;
using client::resources::kLeases;

namespace {

const json::object* spec_of(const json::value& lease) {
  if (!lease.is_object()) return nullptr;
  const auto* s = lease.get_object().if_contains("spec");
  return s && s->is_object() ? &s->get_object() : nullptr;
}

std::string string_field(const json::object* o, std::string_view key) {
  if (!o) return {};
  const auto* v = o->if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

std::int64_t int_field(const json::object* o, std::string_view key) {
  if (!o) return 0;
  const auto* v = o->if_contains(key);
  if (!v) return 0;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<std::int64_t>(v->get_uint64());
  return 0;
}

std::int64_t duration_seconds(std::chrono::nanoseconds d) {
  auto s = std::chrono::duration_cast<std::chrono::seconds>(d + std::chrono::nanoseconds(999'999'999));
  return std::max<std::int64_t>(1, s.count());
}

double jitter() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(1.0, 1.2)(rng);
}

}  // namespace

LeaderElector::LeaderElector(std::shared_ptr<client::Client> client, LeaderElectionOptions options)
    : client_(std::move(client)),
      options_(std::move(options)),
      clock_(options_.clock ? options_.clock : &util::real_clock()) {
  listener_id_ = clock_->add_listener([this] {
    std::lock_guard lock(mu_);
    cv_.notify_all();
  });
}

LeaderElector::~LeaderElector() {
  stop();
  clock_->remove_listener(listener_id_);
}

Status LeaderElector::start() {
  std::lock_guard lock(lifecycle_mu_);
  if (started_) return invalid_argument("leader elector already started");
  if (options_.lease_name.empty()) return invalid_argument("leader election needs a lease name");
  if (options_.identity.empty()) return invalid_argument("leader election needs an identity");
  if (options_.retry_period.count() <= 0 || options_.renew_deadline <= options_.retry_period ||
      options_.lease_duration <= options_.renew_deadline) {
    return invalid_argument(
        "leader election needs 0 < retry_period < renew_deadline < lease_duration");
  }
  started_ = true;
  if (stopping_.load()) return Status();
  set_state(State::kCandidate);
  thread_ = std::thread([this] { run(); });
  return Status();
}

void LeaderElector::stop() {
  std::lock_guard lifecycle(lifecycle_mu_);
  {
    std::lock_guard lock(mu_);
    stopping_.store(true);
    cv_.notify_all();
  }
  if (thread_.joinable()) {
    thread_.join();
  } else if (state() != State::kLost) {
    set_state(State::kStopped);
  }
}

std::string LeaderElector::leader() const {
  std::lock_guard lock(mu_);
  return observed_holder_;
}

void LeaderElector::set_state(State s) { state_.store(s); }

bool LeaderElector::sleep_for(std::chrono::nanoseconds d) {
  const auto deadline = clock_->now() + std::chrono::duration_cast<util::Clock::TimePoint::duration>(d);
  std::unique_lock lock(mu_);
  while (true) {
    if (stopping_.load()) return false;
    auto left = deadline - clock_->now();
    if (left.count() <= 0) return true;
    // Exact on a real clock; a fake clock's jump wakes us through the listener.
    cv_.wait_for(lock, left);
  }
}

void LeaderElector::observe(const json::value& lease) {
  const json::object* spec = spec_of(lease);
  std::string record = spec ? json::serialize(*spec) : std::string();
  std::string holder = string_field(spec, "holderIdentity");
  bool holder_changed = false;
  {
    std::lock_guard lock(mu_);
    if (!have_observation_ || record != observed_record_) {
      observed_record_ = std::move(record);
      observed_time_ = clock_->now();
    }
    holder_changed = !have_observation_ || holder != observed_holder_;
    have_observation_ = true;
    observed_holder_ = holder;
    observed_rv_ = std::string(client::object_resource_version(lease));
    observed_transitions_ = int_field(spec, "leaseTransitions");
    observed_acquire_time_ = string_field(spec, "acquireTime");
  }
  if (holder_changed && !holder.empty() && options_.on_new_leader) options_.on_new_leader(holder);
}

bool LeaderElector::try_acquire_or_renew() {
  const std::string now = api::MicroTime{clock_->system_now()}.to_string();
  const std::int64_t duration_s = duration_seconds(options_.lease_duration);
  auto got = client_->get(kLeases, options_.lease_namespace, options_.lease_name);
  if (!got.ok()) {
    if (got.status().code() != Code::kNotFound) return false;
    json::value lease = {
        {"apiVersion", "coordination.k8s.io/v1"},
        {"kind", "Lease"},
        {"metadata", {{"name", options_.lease_name}, {"namespace", options_.lease_namespace}}},
        {"spec",
         {{"holderIdentity", options_.identity},
          {"leaseDurationSeconds", duration_s},
          {"acquireTime", now},
          {"renewTime", now},
          {"leaseTransitions", 0}}}};
    auto created = client_->create(kLeases, options_.lease_namespace, lease);
    if (!created.ok()) return false;
    observe(*created);
    return true;
  }

  json::value lease = std::move(got).value();
  observe(lease);
  const json::object* spec = spec_of(lease);
  const std::string holder = string_field(spec, "holderIdentity");
  const bool i_hold = holder == options_.identity;
  {
    std::lock_guard lock(mu_);
    // Someone else holds it, and it has not gone unchanged for a whole lease duration of OUR
    // observation: not ours to take.
    if (!holder.empty() && !i_hold && observed_time_ + options_.lease_duration > clock_->now()) {
      return false;
    }
  }
  json::object new_spec;
  new_spec["holderIdentity"] = options_.identity;
  new_spec["leaseDurationSeconds"] = duration_s;
  new_spec["renewTime"] = now;
  if (i_hold) {  // a renew: keep when it was acquired and how many transitions there were
    std::string acquired = string_field(spec, "acquireTime");
    new_spec["acquireTime"] = acquired.empty() ? now : acquired;
    new_spec["leaseTransitions"] = int_field(spec, "leaseTransitions");
  } else {  // a takeover (of an expired or released lease)
    new_spec["acquireTime"] = now;
    new_spec["leaseTransitions"] = int_field(spec, "leaseTransitions") + 1;
  }
  lease.as_object()["spec"] = std::move(new_spec);
  auto updated = client_->update(kLeases, options_.lease_namespace, lease);
  if (!updated.ok()) return false;
  observe(*updated);
  return true;
}

void LeaderElector::release() {
  auto got = client_->get(kLeases, options_.lease_namespace, options_.lease_name);
  if (!got.ok()) return;
  json::value lease = std::move(got).value();
  const json::object* spec = spec_of(lease);
  if (string_field(spec, "holderIdentity") != options_.identity) return;
  const std::string now = api::MicroTime{clock_->system_now()}.to_string();
  json::object new_spec;
  new_spec["holderIdentity"] = "";
  new_spec["leaseDurationSeconds"] = 1;
  new_spec["acquireTime"] = now;
  new_spec["renewTime"] = now;
  new_spec["leaseTransitions"] = int_field(spec, "leaseTransitions");
  lease.as_object()["spec"] = std::move(new_spec);
  auto updated = client_->update(kLeases, options_.lease_namespace, lease);
  if (updated.ok()) observe(*updated);
}

void LeaderElector::run() {
  // Campaign.
  bool leading = false;
  while (!stopping_.load()) {
    if (try_acquire_or_renew()) {
      leading = true;
      break;
    }
    auto wait = std::chrono::duration_cast<std::chrono::nanoseconds>(options_.retry_period *
                                                                      jitter());
    if (!sleep_for(wait)) break;
  }
  if (!leading) {
    set_state(State::kStopped);
    return;
  }
  set_state(State::kLeading);
  ORCH_LOG(kInfo, lease_component(options_.lease_name), "leader election: {} acquired lease {}/{}", options_.identity,
           options_.lease_namespace, options_.lease_name);
  if (options_.on_started_leading) options_.on_started_leading();

  // Renew.
  bool lost = false;
  auto last_renew = clock_->now();
  while (sleep_for(options_.retry_period)) {
    if (try_acquire_or_renew()) {
      last_renew = clock_->now();
      continue;
    }
    if (clock_->now() - last_renew >= options_.renew_deadline) {
      lost = true;
      break;
    }
  }
  if (lost) {
    ORCH_LOG(kWarning, lease_component(options_.lease_name), "leader election: {} lost lease {}/{} (no renew within {:.1f} s)",
             options_.identity, options_.lease_namespace, options_.lease_name,
             std::chrono::duration<double>(options_.renew_deadline).count());
    set_state(State::kLost);
  } else {
    if (options_.release_on_cancel) release();
    set_state(State::kStopped);
  }
  if (options_.on_stopped_leading) options_.on_stopped_leading();
}

}  // namespace orch::controller
