// Kubernetes' PersistentVolume binding rules (see volume_binding.hpp). Stateless.
#include "orch/controller/volume_binding.hpp"

#include <algorithm>
#include <tuple>

#include <boost/json.hpp>

#include "json_util.hpp"
#include "orch/api/quantity.hpp"

namespace orch::controller::volume {

namespace json = boost::json;
using namespace json_util;

namespace {

std::int64_t bytes_of(const json::value* q) {
  if (!q || !q->is_string()) return 0;
  auto parsed = api::Quantity::parse(q->get_string());
  return parsed.ok() ? parsed->value() : 0;
}

std::string_view volume_mode(const json::value& obj) {
  std::string_view m = str_at(obj, {"spec", "volumeMode"});
  return m.empty() ? std::string_view("Filesystem") : m;
}

bool is_default(const json::value& klass) {
  return str_at(klass, {"metadata", "annotations", kDefaultClassAnnotation}) == "true" ||
         str_at(klass, {"metadata", "annotations", kBetaDefaultClassAnnotation}) == "true";
}

}  // namespace

std::optional<std::string> claim_class(const json::value& claim) {
  if (const json::value* c = at(claim, {"spec", "storageClassName"}); c && c->is_string()) {
    return std::string(c->get_string());
  }
  if (const json::value* a = at(claim, {"metadata", "annotations", kBetaStorageClassAnnotation});
      a && a->is_string()) {
    return std::string(a->get_string());
  }
  return std::nullopt;
}

std::string volume_class(const json::value& pv) {
  if (std::string_view c = str_at(pv, {"spec", "storageClassName"}); !c.empty()) {
    return std::string(c);
  }
  return std::string(str_at(pv, {"metadata", "annotations", kBetaStorageClassAnnotation}));
}

const json::value* default_class(const std::vector<const json::value*>& classes) {
  const json::value* best = nullptr;
  auto rank = [](const json::value& c) {
    return std::make_tuple(str_at(c, {"metadata", "creationTimestamp"}),
                           str_at(c, {"metadata", "name"}));
  };
  for (const json::value* c : classes) {
    if (!c || !is_default(*c)) continue;
    if (!best || rank(*c) > rank(*best)) best = c;
  }
  return best;
}

std::int64_t requested_bytes(const json::value& claim) {
  return bytes_of(at(claim, {"spec", "resources", "requests", "storage"}));
}

std::int64_t capacity_bytes(const json::value& pv) {
  return bytes_of(at(pv, {"spec", "capacity", "storage"}));
}

bool has_claim_ref(const json::value& pv) {
  const json::value* ref = at(pv, {"spec", "claimRef"});
  return ref && ref->is_object() && !str_at(*ref, {"name"}).empty();
}

bool claim_ref_names(const json::value& pv, const json::value& claim) {
  if (!has_claim_ref(pv)) return false;
  const json::value& ref = *at(pv, {"spec", "claimRef"});
  if (str_at(ref, {"name"}) != str_at(claim, {"metadata", "name"})) return false;
  if (str_at(ref, {"namespace"}) != str_at(claim, {"metadata", "namespace"})) return false;
  std::string_view uid = str_at(ref, {"uid"});
  return uid.empty() || uid == str_at(claim, {"metadata", "uid"});
}

bool volume_fits(const json::value& claim, std::string_view klass, const json::value& pv,
                 const NodeCheck& node_ok) {
  if (is_deleting(pv)) return false;
  if (has_claim_ref(pv) && !claim_ref_names(pv, claim)) return false;
  if (volume_class(pv) != klass) return false;
  const std::vector<std::string> offered = strings(at(pv, {"spec", "accessModes"}));
  for (const auto& m : strings(at(claim, {"spec", "accessModes"}))) {
    if (std::find(offered.begin(), offered.end(), m) == offered.end()) return false;
  }
  if (volume_mode(pv) != volume_mode(claim)) return false;
  if (const json::value* sel = at(claim, {"spec", "selector"}); sel && sel->is_object()) {
    auto s = label_selector(sel);
    if (!s.ok() || !s->matches(labels_of(pv))) return false;
  }
  if (capacity_bytes(pv) < requested_bytes(claim)) return false;
  if (node_ok && !node_ok(at(pv, {"spec", "nodeAffinity", "required"}))) return false;
  return true;
}

const json::value* best_volume(const json::value& claim, std::string_view klass,
                               const std::vector<const json::value*>& pvs,
                               const NodeCheck& node_ok) {
  const json::value* best = nullptr;
  for (const json::value* pv : pvs) {
    if (!pv || !volume_fits(claim, klass, *pv, node_ok)) continue;
    if (claim_ref_names(*pv, claim)) return pv;  // pre-bound to this claim
    if (has_claim_ref(*pv)) continue;
    std::string_view phase = str_at(*pv, {"status", "phase"});
    if (phase != "Available" && phase != "Pending" && !phase.empty()) continue;
    if (!best || capacity_bytes(*pv) < capacity_bytes(*best) ||
        (capacity_bytes(*pv) == capacity_bytes(*best) &&
         str_at(*pv, {"metadata", "name"}) < str_at(*best, {"metadata", "name"}))) {
      best = pv;
    }
  }
  return best;
}

}  // namespace orch::controller::volume
