// JSON merge patch, JSON patch, Kubernetes strategic merge patch and the merge-key table.
// The SMP half follows the apply path of k8s.io/apimachinery pkg/util/strategicpatch (mergeMap,
// mergeSlice, normalizeElementOrder); see patch.hpp for where we deliberately differ.
//
// Thread-safety: stateless; every function may run on any thread at once.
#include "orch/apiserver/patch.hpp"

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace orch::apiserver {
namespace {

namespace json = boost::json;

// ---------------------------------------------------------------------------------------------
// Shared helpers

// Deepest nesting accepted in a PATCH body. The SMP merge recurses once per level.
constexpr std::size_t kMaxPatchDepth = 100;
// Longest JSON excerpt quoted in an error message.
constexpr std::size_t kMaxQuoted = 120;

bool is_number(const json::value& v) { return v.is_int64() || v.is_uint64() || v.is_double(); }

double number_as_double(const json::value& v) {
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  return v.get_double();
}

// JSON equality as RFC 6902 `test` defines it: numbers by value (1 == 1.0), objects regardless
// of member order, arrays element by element.
bool json_equal(const json::value& a, const json::value& b) {
  if (is_number(a) && is_number(b)) {
    if (!a.is_double() && !b.is_double()) return a == b;  // exact for int64/uint64 mixes
    return number_as_double(a) == number_as_double(b);
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case json::kind::object: {
      const auto& ao = a.get_object();
      const auto& bo = b.get_object();
      if (ao.size() != bo.size()) return false;
      for (const auto& [k, v] : ao) {
        const json::value* other = bo.if_contains(k);
        if (other == nullptr || !json_equal(v, *other)) return false;
      }
      return true;
    }
    case json::kind::array: {
      const auto& aa = a.get_array();
      const auto& ba = b.get_array();
      if (aa.size() != ba.size()) return false;
      for (std::size_t i = 0; i < aa.size(); ++i) {
        if (!json_equal(aa[i], ba[i])) return false;
      }
      return true;
    }
    default:
      return a == b;
  }
}

std::string quote(const json::value& v) {
  std::string s = json::serialize(v);
  if (s.size() > kMaxQuoted) s = s.substr(0, kMaxQuoted) + "...";
  return s;
}

std::string quote(std::string_view s) { return quote(json::value(json::string(s))); }

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// ---------------------------------------------------------------------------------------------
// RFC 7386

json::value merge_patch(const json::value* target, const json::value& patch) {
  if (!patch.is_object()) return patch;
  json::object result;
  if (target != nullptr && target->is_object()) result = target->get_object();
  for (const auto& [key, value] : patch.get_object()) {
    if (value.is_null()) {
      result.stable_erase(key);
      continue;
    }
    json::value merged = merge_patch(result.if_contains(key), value);
    result[key] = std::move(merged);
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// RFC 6902 / RFC 6901

using Tokens = std::vector<std::string>;

// Every failure while applying one operation is 422, as in the real API server.
class JsonPatcher {
 public:
  explicit JsonPatcher(json::value doc) : doc_(std::move(doc)) {}

  Status apply(std::size_t index, const json::object& op);
  json::value take() && { return std::move(doc_); }

 private:
  Status fail(std::string_view what) const {
    return invalid_argument("json patch operation " + std::to_string(index_) + " (" + op_name_ +
                            "): " + std::string(what));
  }
  Result<std::string> member_string(const json::object& op, std::string_view name) const;
  Result<Tokens> parse_pointer(std::string_view pointer) const;
  // The value at `tokens`, or a 422 naming `pointer` when it does not exist.
  Result<json::value*> find(const Tokens& tokens, std::string_view pointer);
  // An array index for reading (< size) or, with `for_insert`, inserting (<= size, "-" = size).
  Result<std::size_t> array_index(const std::string& token, std::size_t size, bool for_insert,
                                  std::string_view pointer) const;
  Status add(const Tokens& tokens, std::string_view pointer, json::value value);
  Result<json::value> remove(const Tokens& tokens, std::string_view pointer);

  json::value doc_;
  std::size_t index_ = 0;
  std::string op_name_;
};

Result<std::string> JsonPatcher::member_string(const json::object& op,
                                               std::string_view name) const {
  const json::value* v = op.if_contains(name);
  if (v == nullptr) return fail("missing \"" + std::string(name) + "\"");
  if (!v->is_string()) return fail("\"" + std::string(name) + "\" must be a string");
  return std::string(v->get_string());
}

Result<Tokens> JsonPatcher::parse_pointer(std::string_view pointer) const {
  Tokens tokens;
  if (pointer.empty()) return tokens;
  if (pointer.front() != '/') {
    return fail("JSON pointer " + quote(pointer) + " must be empty or start with '/'");
  }
  std::string current;
  for (std::size_t i = 1; i <= pointer.size(); ++i) {
    if (i == pointer.size() || pointer[i] == '/') {
      tokens.push_back(std::move(current));
      current.clear();
      continue;
    }
    if (pointer[i] == '~') {
      if (i + 1 < pointer.size() && pointer[i + 1] == '0') {
        current.push_back('~');
      } else if (i + 1 < pointer.size() && pointer[i + 1] == '1') {
        current.push_back('/');
      } else {
        return fail("JSON pointer " + quote(pointer) + " has '~' not followed by '0' or '1'");
      }
      ++i;
      continue;
    }
    current.push_back(pointer[i]);
  }
  return tokens;
}

Result<std::size_t> JsonPatcher::array_index(const std::string& token, std::size_t size,
                                             bool for_insert, std::string_view pointer) const {
  if (token == "-") {
    if (for_insert) return size;
    return fail("path " + quote(pointer) + ": \"-\" names no existing array element");
  }
  const bool digits = !token.empty() && std::all_of(token.begin(), token.end(),
                                                    [](char c) { return c >= '0' && c <= '9'; });
  if (!digits || (token.size() > 1 && token.front() == '0') || token.size() > 18) {
    return fail("path " + quote(pointer) + ": " + quote(token) + " is not an array index");
  }
  const std::size_t index = std::stoull(token);
  if (index > size || (!for_insert && index == size)) {
    return fail("path " + quote(pointer) + ": index " + token + " is out of range (size " +
                std::to_string(size) + ")");
  }
  return index;
}

Result<json::value*> JsonPatcher::find(const Tokens& tokens, std::string_view pointer) {
  json::value* at = &doc_;
  for (const std::string& token : tokens) {
    if (at->is_object()) {
      at = at->get_object().if_contains(token);
      if (at == nullptr) return fail("path " + quote(pointer) + " does not exist");
    } else if (at->is_array()) {
      ORCH_ASSIGN_OR_RETURN(const std::size_t i,
                            array_index(token, at->get_array().size(), false, pointer));
      at = &at->get_array()[i];
    } else {
      return fail("path " + quote(pointer) + " does not exist");
    }
  }
  return at;
}

Status JsonPatcher::add(const Tokens& tokens, std::string_view pointer, json::value value) {
  if (tokens.empty()) {
    doc_ = std::move(value);
    return ok_status();
  }
  const Tokens parent_tokens(tokens.begin(), tokens.end() - 1);
  auto parent = find(parent_tokens, pointer);
  if (!parent.ok()) return fail("the parent of path " + quote(pointer) + " does not exist");
  json::value& container = **parent;
  if (container.is_object()) {
    container.get_object()[tokens.back()] = std::move(value);
    return ok_status();
  }
  if (container.is_array()) {
    json::array& array = container.get_array();
    ORCH_ASSIGN_OR_RETURN(const std::size_t i,
                          array_index(tokens.back(), array.size(), true, pointer));
    array.insert(array.begin() + static_cast<std::ptrdiff_t>(i), std::move(value));
    return ok_status();
  }
  return fail("the parent of path " + quote(pointer) + " is not an object or an array");
}

Result<json::value> JsonPatcher::remove(const Tokens& tokens, std::string_view pointer) {
  if (tokens.empty()) return fail("cannot remove the whole document");
  const Tokens parent_tokens(tokens.begin(), tokens.end() - 1);
  auto parent = find(parent_tokens, pointer);
  if (!parent.ok()) return fail("path " + quote(pointer) + " does not exist");
  json::value& container = **parent;
  if (container.is_object()) {
    json::object& object = container.get_object();
    json::value* member = object.if_contains(tokens.back());
    if (member == nullptr) return fail("path " + quote(pointer) + " does not exist");
    json::value removed = std::move(*member);
    object.stable_erase(tokens.back());
    return removed;
  }
  if (container.is_array()) {
    json::array& array = container.get_array();
    ORCH_ASSIGN_OR_RETURN(const std::size_t i,
                          array_index(tokens.back(), array.size(), false, pointer));
    json::value removed = std::move(array[i]);
    array.erase(array.begin() + static_cast<std::ptrdiff_t>(i));
    return removed;
  }
  return fail("path " + quote(pointer) + " does not exist");
}

Status JsonPatcher::apply(std::size_t index, const json::object& op) {
  index_ = index;
  op_name_ = "?";
  ORCH_ASSIGN_OR_RETURN(op_name_, member_string(op, "op"));
  ORCH_ASSIGN_OR_RETURN(const std::string path, member_string(op, "path"));
  ORCH_ASSIGN_OR_RETURN(const Tokens tokens, parse_pointer(path));
  const json::value* value = op.if_contains("value");

  if (op_name_ == "add" || op_name_ == "replace" || op_name_ == "test") {
    if (value == nullptr) return fail("missing \"value\"");
  }
  if (op_name_ == "add") return add(tokens, path, *value);
  if (op_name_ == "remove") return remove(tokens, path).status();
  if (op_name_ == "replace") {
    ORCH_ASSIGN_OR_RETURN(json::value * at, find(tokens, path));
    *at = *value;
    return ok_status();
  }
  if (op_name_ == "test") {
    ORCH_ASSIGN_OR_RETURN(json::value * at, find(tokens, path));
    if (!json_equal(*at, *value)) {
      return fail("test failed: the value at " + quote(path) + " is " + quote(*at) + ", not " +
                  quote(*value));
    }
    return ok_status();
  }
  if (op_name_ == "move" || op_name_ == "copy") {
    ORCH_ASSIGN_OR_RETURN(const std::string from, member_string(op, "from"));
    ORCH_ASSIGN_OR_RETURN(const Tokens from_tokens, parse_pointer(from));
    if (op_name_ == "copy") {
      ORCH_ASSIGN_OR_RETURN(json::value * source, find(from_tokens, from));
      json::value copied = *source;
      return add(tokens, path, std::move(copied));
    }
    ORCH_TRY(find(from_tokens, from));
    if (from_tokens == tokens) return ok_status();
    if (tokens.size() > from_tokens.size() &&
        std::equal(from_tokens.begin(), from_tokens.end(), tokens.begin())) {
      return fail("cannot move " + quote(from) + " into its own child " + quote(path));
    }
    ORCH_ASSIGN_OR_RETURN(json::value moved, remove(from_tokens, from));
    return add(tokens, path, std::move(moved));
  }
  return fail("unknown operation " + quote(op_name_));
}

// ---------------------------------------------------------------------------------------------
// Strategic merge patch

constexpr std::string_view kDirectiveMarker = "$patch";
constexpr std::string_view kRetainKeysDirective = "$retainKeys";
constexpr std::string_view kSetElementOrderPrefix = "$setElementOrder/";
constexpr std::string_view kDeleteFromPrimitiveListPrefix = "$deleteFromPrimitiveList/";

enum class Directive { kMerge, kReplace, kDelete };

Result<Directive> parse_directive(const json::value& v) {
  if (v.is_string()) {
    if (v.get_string() == "replace") return Directive::kReplace;
    if (v.get_string() == "delete") return Directive::kDelete;
    if (v.get_string() == "merge") return Directive::kMerge;
  }
  return bad_request("unknown patch type " + quote(v) +
                     " in \"$patch\" (want replace, delete or merge)");
}

std::string child_path(const std::string& path, std::string_view key) {
  if (path.empty()) return std::string(key);
  std::string out;
  out.reserve(path.size() + 1 + key.size());
  out.append(path).append(".").append(key);
  return out;
}

std::string element_path(const std::string& path) { return path + "[]"; }

// A copy of `object` without `key`, member order kept.
json::object without_key(const json::object& object, std::string_view key) {
  json::object out;
  out.reserve(object.size());
  for (const auto& [k, v] : object) {
    if (k != key) out.emplace(k, v);
  }
  return out;
}

class SmpMerger {
 public:
  explicit SmpMerger(const MergeKeyFn& merge_key) : merge_key_(merge_key) {}

  // Merges `patch` into `original`. nullopt: the map was deleted by `$patch: delete`.
  Result<std::optional<json::object>> merge_object(json::object original, const json::object& patch,
                                                   const std::string& path);

 private:
  MergeInfo info_for(const std::string& path) const {
    return merge_key_ ? merge_key_(path) : MergeInfo{};
  }
  Status check_directive_keys(const json::object& patch, const std::string& path) const;
  Status apply_retain_keys(json::object& original, const json::object& patch,
                           const std::string& path) const;
  Result<json::array> merge_list(json::array original, const json::array& patch,
                                 const MergeInfo& info, const std::string& path);
  // A patch value stored where the target has nothing to merge with: directives applied as if
  // merged into an empty value. nullopt: nothing is stored (the value was `$patch: delete`).
  Result<std::optional<json::value>> clean(const json::value& value, const std::string& path);
  Result<json::array> clean_list(const json::array& list, const std::string& path);
  // Merges and orders the list `field` per its `$setElementOrder`. True when it did, so the
  // patch's list is done; false when the list is left to the ordinary merge (no strategy, null).
  Result<bool> set_element_order(json::object& original, const json::object& patch,
                                 std::string_view field, const json::array& order,
                                 const std::string& path);

  const MergeKeyFn& merge_key_;
};

// How a list's elements are compared: by a merge key (lists of objects) or by value.
struct ListKey {
  std::string key;  // empty: compare whole values

  const json::value* of(const json::value& element) const {
    if (key.empty()) return &element;
    if (!element.is_object()) return nullptr;
    return element.get_object().if_contains(key);
  }
  bool same(const json::value& a, const json::value& b) const {
    const json::value* ka = of(a);
    const json::value* kb = of(b);
    return ka != nullptr && kb != nullptr && json_equal(*ka, *kb);
  }
  // Position of the first element of `list` that matches `element`, or -1.
  std::ptrdiff_t index_in(const json::array& list, const json::value& element) const {
    for (std::size_t i = 0; i < list.size(); ++i) {
      if (same(list[i], element)) return static_cast<std::ptrdiff_t>(i);
    }
    return -1;
  }
};

// apimachinery's normalizeElementOrder: `merged` is split into the elements `order` names and the
// rest (server-only); the former take `order`'s order, the latter keep `server`'s; then the two
// are interleaved: a server-only element goes first only when it precedes, on the server, the
// next patch element. Elements new to the server therefore come before unanchored server-only
// ones.
json::array normalize_order(const json::array& merged, const json::array& order,
                            const json::array& server, const ListKey& key) {
  struct Item {
    const json::value* value;
    std::ptrdiff_t order_index;
    std::ptrdiff_t server_index;
  };
  std::vector<Item> from_patch;
  std::vector<Item> server_only;
  for (const json::value& v : merged) {
    const Item item{&v, key.index_in(order, v), key.index_in(server, v)};
    (item.order_index >= 0 ? from_patch : server_only).push_back(item);
  }
  std::stable_sort(from_patch.begin(), from_patch.end(),
                   [](const Item& a, const Item& b) { return a.order_index < b.order_index; });
  std::stable_sort(server_only.begin(), server_only.end(), [](const Item& a, const Item& b) {
    const auto rank = [](const Item& x) {
      return x.server_index < 0 ? PTRDIFF_MAX : x.server_index;
    };
    return rank(a) < rank(b);
  });
  json::array out;
  out.reserve(merged.size());
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < server_only.size() || j < from_patch.size()) {
    bool take_server = j >= from_patch.size();
    if (i < server_only.size() && j < from_patch.size()) {
      const Item& l = server_only[i];
      const Item& r = from_patch[j];
      take_server = l.server_index >= 0 && r.server_index >= 0 && l.server_index < r.server_index;
    }
    out.push_back(take_server ? *server_only[i++].value : *from_patch[j++].value);
  }
  return out;
}

enum class ElementKinds { kEmpty, kObjects, kScalars };

Result<ElementKinds> element_kinds(const json::array& a, const json::array& b,
                                   const std::string& path) {
  bool objects = false;
  bool scalars = false;
  for (const json::array* list : {&a, &b}) {
    for (const json::value& v : *list) {
      if (v.is_array()) return invalid_argument("lists of lists are not supported: " + path);
      (v.is_object() ? objects : scalars) = true;
    }
  }
  if (objects && scalars) {
    return bad_request("list element types are not identical in " + path);
  }
  if (objects) return ElementKinds::kObjects;
  return scalars ? ElementKinds::kScalars : ElementKinds::kEmpty;
}

Status no_merge_key(const json::value& element, const std::string& key, const std::string& path) {
  return bad_request("map: " + quote(element) + " does not contain declared merge key: " + key +
                     " (" + path + ")");
}

Status SmpMerger::check_directive_keys(const json::object& patch, const std::string& path) const {
  for (const auto& [k, v] : patch) {
    const std::string_view key = k;
    if (key.empty() || key.front() != '$') continue;
    if (key == kDirectiveMarker || key == kRetainKeysDirective) continue;
    if (starts_with(key, kSetElementOrderPrefix) && key.size() > kSetElementOrderPrefix.size()) {
      if (!v.is_array()) {
        return bad_request("invalid patch format of setElementOrder list: " + std::string(key) +
                           " in " + (path.empty() ? "<root>" : path));
      }
      continue;
    }
    if (starts_with(key, kDeleteFromPrimitiveListPrefix) &&
        key.size() > kDeleteFromPrimitiveListPrefix.size()) {
      if (!v.is_array()) {
        return bad_request("invalid patch format of primitive list: " + std::string(key) + " in " +
                           (path.empty() ? "<root>" : path));
      }
      continue;
    }
    return bad_request("unknown strategic merge patch directive " + quote(key) + " in " +
                       (path.empty() ? "<root>" : path));
  }
  return ok_status();
}

Status SmpMerger::apply_retain_keys(json::object& original, const json::object& patch,
                                    const std::string& path) const {
  const json::value* retain = patch.if_contains(kRetainKeysDirective);
  if (retain == nullptr) return ok_status();
  if (!retain->is_array()) {
    return bad_request("invalid patch format of retainKeys in " +
                       (path.empty() ? std::string("<root>") : path));
  }
  const json::array& keep = retain->get_array();
  const auto kept = [&keep](std::string_view key) {
    return std::any_of(keep.begin(), keep.end(), [key](const json::value& v) {
      return v.is_string() && v.get_string() == key;
    });
  };
  for (const auto& [k, v] : patch) {
    if (v.is_null() || (!k.empty() && k.front() == '$')) continue;
    if (!kept(k)) {
      return invalid_argument(
          "patch content doesn't match retainKeys list: " + quote(std::string_view(k)) +
          " is not in $retainKeys of " + (path.empty() ? std::string("<root>") : path));
    }
  }
  json::object retained;
  retained.reserve(original.size());
  for (auto& [k, v] : original) {
    if (kept(k)) retained.emplace(k, std::move(v));
  }
  original = std::move(retained);
  return ok_status();
}

Result<json::array> SmpMerger::clean_list(const json::array& list, const std::string& path) {
  json::array out;
  out.reserve(list.size());
  for (const json::value& element : list) {
    if (element.is_object()) {
      if (const json::value* d = element.get_object().if_contains(kDirectiveMarker)) {
        // A directive element in a list taken as is ($patch delete/replace/merge marker): it is
        // an instruction, never data (apimachinery removeDirectives).
        ORCH_TRY(parse_directive(*d));
        continue;
      }
    }
    ORCH_ASSIGN_OR_RETURN(std::optional<json::value> cleaned, clean(element, element_path(path)));
    if (cleaned) out.push_back(std::move(*cleaned));
  }
  return out;
}

Result<std::optional<json::value>> SmpMerger::clean(const json::value& value,
                                                    const std::string& path) {
  if (value.is_object()) {
    ORCH_ASSIGN_OR_RETURN(std::optional<json::object> merged,
                          merge_object(json::object(), value.get_object(), path));
    if (!merged) return std::optional<json::value>();
    return std::optional<json::value>(std::move(*merged));
  }
  if (value.is_array()) {
    ORCH_ASSIGN_OR_RETURN(json::array list, clean_list(value.get_array(), path));
    return std::optional<json::value>(std::move(list));
  }
  return std::optional<json::value>(value);
}

Result<json::array> SmpMerger::merge_list(json::array original, const json::array& patch,
                                          const MergeInfo& info, const std::string& path) {
  if (original.empty() && patch.empty()) return original;
  ORCH_ASSIGN_OR_RETURN(const ElementKinds kinds, element_kinds(original, patch, path));

  if (kinds == ElementKinds::kScalars) {
    // A set: union without duplicates, then apimachinery's order.
    json::array merged;
    const json::array& server = original;
    for (const json::array* list : {&server, &patch}) {
      for (const json::value& v : *list) {
        if (ListKey{}.index_in(merged, v) < 0) merged.push_back(v);
      }
    }
    return normalize_order(merged, patch, original, ListKey{});
  }

  if (info.merge_key.empty()) {
    return bad_request("cannot merge lists of objects without a merge key: " + path);
  }
  const ListKey key{info.merge_key};
  const std::string elem_path = element_path(path);

  // Directive elements first: deletions edit the server list, a replace marker replaces it.
  bool replace = false;
  json::array plain;
  for (const json::value& element : patch) {
    const json::object& fields = element.get_object();
    const json::value* marker = fields.if_contains(kDirectiveMarker);
    if (marker == nullptr) {
      if (key.of(element) == nullptr) return no_merge_key(element, info.merge_key, path);
      plain.push_back(element);
      continue;
    }
    ORCH_ASSIGN_OR_RETURN(const Directive directive, parse_directive(*marker));
    switch (directive) {
      case Directive::kDelete: {
        if (key.of(element) == nullptr) return no_merge_key(element, info.merge_key, path);
        json::array kept;
        kept.reserve(original.size());
        for (json::value& v : original) {
          if (!key.same(v, element)) kept.push_back(std::move(v));
        }
        original = std::move(kept);
        break;
      }
      case Directive::kReplace:
        replace = true;
        break;
      case Directive::kMerge:  // the default: an ordinary element that spells it out
        if (key.of(element) == nullptr) return no_merge_key(element, info.merge_key, path);
        plain.push_back(element);
        break;
    }
  }
  if (replace) return clean_list(plain, path);

  json::array merged = original;
  for (const json::value& element : plain) {
    json::value* match = nullptr;
    for (json::value& v : merged) {
      if (key.same(v, element)) {
        match = &v;
        break;
      }
    }
    json::object base;
    if (match != nullptr) base = std::move(match->get_object());
    ORCH_ASSIGN_OR_RETURN(std::optional<json::object> result,
                          merge_object(std::move(base), element.get_object(), elem_path));
    json::value stored = result ? json::value(std::move(*result)) : json::value(json::object());
    if (match != nullptr) {
      *match = std::move(stored);
    } else {
      merged.push_back(std::move(stored));
    }
  }
  return normalize_order(merged, plain, original, key);
}

Result<bool> SmpMerger::set_element_order(json::object& original, const json::object& patch,
                                          std::string_view field, const json::array& order,
                                          const std::string& path) {
  const std::string list_path = child_path(path, field);
  const MergeInfo info = info_for(list_path);
  // A list without a merge strategy is replaced whole; its order is the patch's.
  if (!info.merges()) return false;

  const json::value* patch_value = patch.if_contains(field);
  if (patch_value != nullptr && patch_value->is_null()) return false;  // deleted by the merge
  if (patch_value != nullptr && !patch_value->is_array()) {
    return bad_request("invalid patch format of setElementOrder list: " + list_path +
                       " is not a list in the patch");
  }
  json::value* original_value = original.if_contains(field);
  const bool have_original = original_value != nullptr && original_value->is_array();
  if (patch_value == nullptr && !have_original) return false;

  static const json::array kEmpty;
  const json::array& patch_list = patch_value != nullptr ? patch_value->get_array() : kEmpty;
  const json::array server = have_original ? original_value->get_array() : json::array();

  ORCH_ASSIGN_OR_RETURN(ElementKinds kinds, element_kinds(server, patch_list, list_path));
  if (kinds == ElementKinds::kEmpty) {
    ORCH_ASSIGN_OR_RETURN(kinds, element_kinds(order, kEmpty, list_path));
  }
  ListKey key;
  if (kinds == ElementKinds::kObjects) {
    if (info.merge_key.empty()) {
      return bad_request("cannot merge lists of objects without a merge key: " + list_path);
    }
    key.key = info.merge_key;
    for (const json::value& v : order) {
      if (key.of(v) == nullptr) return no_merge_key(v, info.merge_key, list_path);
    }
  }

  // The patch list's own order must agree with $setElementOrder (deletions and other directive
  // elements aside), as apimachinery's validatePatchWithSetOrderList requires.
  std::size_t p = 0;
  std::size_t o = 0;
  std::vector<const json::value*> ordinary;
  for (const json::value& v : patch_list) {
    if (v.is_object() && v.get_object().contains(kDirectiveMarker)) continue;
    ordinary.push_back(&v);
  }
  while (p < ordinary.size() && o < order.size()) {
    if (key.of(*ordinary[p]) == nullptr) return no_merge_key(*ordinary[p], key.key, list_path);
    if (key.same(*ordinary[p], order[o])) ++p;
    ++o;
  }
  if (p < ordinary.size()) {
    return bad_request("the order in patch list " + quote(json::value(patch_list)) +
                       " doesn't match $setElementOrder list " + quote(json::value(order)) + " (" +
                       list_path + ")");
  }

  json::array merged;
  if (patch_value == nullptr) {
    merged = server;
  } else if (!have_original) {
    ORCH_ASSIGN_OR_RETURN(merged, clean_list(patch_list, list_path));
  } else {
    ORCH_ASSIGN_OR_RETURN(merged, merge_list(server, patch_list, info, list_path));
  }
  original[field] = normalize_order(merged, order, server, key);
  return true;
}

Result<std::optional<json::object>> SmpMerger::merge_object(json::object original,
                                                            const json::object& patch,
                                                            const std::string& path) {
  if (const json::value* marker = patch.if_contains(kDirectiveMarker)) {
    ORCH_ASSIGN_OR_RETURN(const Directive directive, parse_directive(*marker));
    if (directive == Directive::kDelete) return std::optional<json::object>();
    if (directive == Directive::kReplace) {
      return merge_object(json::object(), without_key(patch, kDirectiveMarker), path);
    }
  }
  ORCH_TRY(check_directive_keys(patch, path));
  ORCH_TRY(apply_retain_keys(original, patch, path));

  // $setElementOrder first: it merges its list itself, so the loop below skips that field.
  std::vector<std::string_view> ordered_fields;
  for (const auto& [k, v] : patch) {
    const std::string_view key = k;
    if (!starts_with(key, kSetElementOrderPrefix)) continue;
    const std::string_view field = key.substr(kSetElementOrderPrefix.size());
    ORCH_ASSIGN_OR_RETURN(const bool done,
                          set_element_order(original, patch, field, v.get_array(), path));
    if (done) ordered_fields.push_back(field);
  }

  for (const auto& [k, v] : patch) {
    const std::string_view key = k;
    if (!key.empty() && key.front() == '$') continue;
    if (std::find(ordered_fields.begin(), ordered_fields.end(), key) != ordered_fields.end()) {
      continue;
    }
    const std::string field_path = child_path(path, key);
    if (v.is_null()) {
      original.stable_erase(key);
      continue;
    }
    json::value* current = original.if_contains(key);
    const bool both_objects = current != nullptr && current->is_object() && v.is_object();
    const bool both_arrays = current != nullptr && current->is_array() && v.is_array();
    if (both_objects) {
      ORCH_ASSIGN_OR_RETURN(
          std::optional<json::object> merged,
          merge_object(std::move(current->get_object()), v.get_object(), field_path));
      if (merged) {
        original[key] = std::move(*merged);
      } else {
        original.stable_erase(key);
      }
      continue;
    }
    if (both_arrays) {
      const MergeInfo info = info_for(field_path);
      if (info.merges()) {
        ORCH_ASSIGN_OR_RETURN(json::array merged, merge_list(std::move(current->get_array()),
                                                             v.get_array(), info, field_path));
        original[key] = std::move(merged);
        continue;
      }
    }
    // New, replaced (scalar, list without strategy) or of another JSON kind: take the patch's.
    ORCH_ASSIGN_OR_RETURN(std::optional<json::value> cleaned, clean(v, field_path));
    if (cleaned) {
      original[key] = std::move(*cleaned);
    } else {
      original.stable_erase(key);
    }
  }

  // $deleteFromPrimitiveList last, so it also sees values the patch list itself brought.
  for (const auto& [k, v] : patch) {
    const std::string_view key = k;
    if (!starts_with(key, kDeleteFromPrimitiveListPrefix)) continue;
    const std::string_view field = key.substr(kDeleteFromPrimitiveListPrefix.size());
    json::value* current = original.if_contains(field);
    if (current == nullptr) continue;  // nothing to delete from; never adds the list
    if (!current->is_array()) {
      return bad_request("$deleteFromPrimitiveList: " + child_path(path, field) + " is not a list");
    }
    json::array kept;
    for (json::value& element : current->get_array()) {
      if (ListKey{}.index_in(v.get_array(), element) < 0) kept.push_back(std::move(element));
    }
    *current = std::move(kept);
  }
  return std::optional<json::object>(std::move(original));
}

// ---------------------------------------------------------------------------------------------
// Merge-key table

bool ends_with_field(std::string_view path, std::string_view suffix) {
  if (path.size() < suffix.size() || path.substr(path.size() - suffix.size()) != suffix) {
    return false;
  }
  return path.size() == suffix.size() || path[path.size() - suffix.size() - 1] == '.' ||
         path[path.size() - suffix.size() - 1] == ']';
}

std::string_view pod_spec_prefix(std::string_view kind) {
  if (kind == "Pod") return "spec.";
  if (kind == "Deployment" || kind == "ReplicaSet" || kind == "StatefulSet" ||
      kind == "DaemonSet" || kind == "Job" || kind == "ReplicationController") {
    return "spec.template.spec.";
  }
  if (kind == "PodTemplate") return "template.spec.";
  if (kind == "CronJob") return "spec.jobTemplate.spec.template.spec.";
  return {};
}

MergeInfo keyed(std::string_view key) { return MergeInfo{std::string(key), false}; }

// core/v1 PodSpec and Container (and EphemeralContainerCommon, which repeats Container's tags).
std::optional<MergeInfo> pod_spec_merge_key(std::string_view rest) {
  struct Row {
    std::string_view field;
    std::string_view key;
  };
  static constexpr Row kPodSpec[] = {
      {"containers", "name"},
      {"initContainers", "name"},
      {"ephemeralContainers", "name"},
      {"volumes", "name"},
      {"imagePullSecrets", "name"},
      {"hostAliases", "ip"},
      {"topologySpreadConstraints", "topologyKey"},
      {"schedulingGates", "name"},
      {"resourceClaims", "name"},
  };
  static constexpr Row kContainer[] = {
      {"ports", "containerPort"},
      {"env", "name"},
      {"volumeMounts", "mountPath"},
      {"volumeDevices", "devicePath"},
  };
  for (const Row& row : kPodSpec) {
    if (rest == row.field) return keyed(row.key);
  }
  for (std::string_view containers :
       {"containers[].", "initContainers[].", "ephemeralContainers[]."}) {
    if (!starts_with(rest, containers)) continue;
    const std::string_view field = rest.substr(containers.size());
    for (const Row& row : kContainer) {
      if (field == row.field) return keyed(row.key);
    }
    return MergeInfo{};
  }
  return std::nullopt;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Public API

Result<json::value> apply_json_merge_patch(const json::value& target, const json::value& patch) {
  return merge_patch(&target, patch);
}

Result<json::value> apply_json_patch(const json::value& target, const json::value& patch) {
  if (!patch.is_array()) return bad_request("json patch must be a JSON array of operations");
  const json::array& ops = patch.get_array();
  for (const json::value& op : ops) {
    if (!op.is_object()) {
      return bad_request("json patch operation " + quote(op) + " is not a JSON object");
    }
  }
  JsonPatcher patcher(target);
  for (std::size_t i = 0; i < ops.size(); ++i) {
    ORCH_TRY(patcher.apply(i, ops[i].get_object()));
  }
  return std::move(patcher).take();
}

Result<json::value> apply_strategic_merge_patch(const json::value& target, const json::value& patch,
                                                const MergeKeyFn& merge_key) {
  if (!patch.is_object()) return bad_request("strategic merge patch must be a JSON object");
  if (!target.is_object()) return bad_request("strategic merge patch target must be a JSON object");
  SmpMerger merger(merge_key);
  ORCH_ASSIGN_OR_RETURN(std::optional<json::object> merged,
                        merger.merge_object(target.get_object(), patch.get_object(), ""));
  if (!merged) return json::value(json::object());
  return json::value(std::move(*merged));
}

MergeInfo kubernetes_merge_key(std::string_view kind, std::string_view path) {
  if (const std::string_view prefix = pod_spec_prefix(kind);
      !prefix.empty() && starts_with(path, prefix)) {
    if (auto info = pod_spec_merge_key(path.substr(prefix.size()))) return *info;
  }
  // ObjectMeta, wherever it appears (the root, a pod template, a claim template).
  if (ends_with_field(path, "metadata.ownerReferences")) return keyed("uid");
  if (ends_with_field(path, "metadata.finalizers")) return MergeInfo{"", true};
  // Every status.conditions we serve is patchMergeKey=type.
  if (path == "status.conditions") return keyed("type");
  if (kind == "Pod") {
    if (path == "status.podIPs" || path == "status.hostIPs") return keyed("ip");
    if (path == "status.resourceClaimStatuses") return keyed("name");
  }
  if (kind == "Service" && path == "spec.ports") return keyed("port");
  if (kind == "Node") {
    if (path == "spec.podCIDRs") return MergeInfo{"", true};
    if (path == "status.addresses") return keyed("type");
  }
  if (kind == "ServiceAccount" && path == "secrets") return keyed("name");
  return MergeInfo{};
}

namespace {

std::string media_type(std::string_view content_type) {
  content_type = content_type.substr(0, content_type.find(';'));
  while (!content_type.empty() && (content_type.front() == ' ' || content_type.front() == '\t')) {
    content_type.remove_prefix(1);
  }
  while (!content_type.empty() && (content_type.back() == ' ' || content_type.back() == '\t')) {
    content_type.remove_suffix(1);
  }
  std::string out(content_type);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

bool is_supported_patch_type(std::string_view content_type) {
  const std::string type = media_type(content_type);
  return type == kJsonPatchType || type == kMergePatchType || type == kStrategicMergePatchType;
}

Result<json::value> apply_patch(std::string_view content_type, const json::value& target,
                                std::string_view patch_body, std::string_view kind) {
  const std::string type = media_type(content_type);
  if (!is_supported_patch_type(type)) {
    return bad_request("unsupported patch media type " + quote(content_type));
  }
  json::parse_options options;
  options.max_depth = kMaxPatchDepth;
  boost::system::error_code ec;
  json::value patch = json::parse(json::string_view(patch_body.data(), patch_body.size()), ec,
                                  json::storage_ptr(), options);
  if (ec) return bad_request("error decoding patch: " + ec.message());

  if (type == kJsonPatchType) {
    ORCH_ASSIGN_OR_RETURN(json::value result, apply_json_patch(target, patch));
    if (!result.is_object()) {
      return invalid_argument("json patch left a " + quote(result) + " where an object must be");
    }
    return result;
  }
  if (!patch.is_object()) {
    return bad_request("a " + type + " body must be a JSON object, not " + quote(patch));
  }
  if (type == kMergePatchType) return apply_json_merge_patch(target, patch);
  const std::string kind_copy(kind);
  return apply_strategic_merge_patch(target, patch, [&kind_copy](std::string_view path) {
    return kubernetes_merge_key(kind_copy, path);
  });
}

}  // namespace orch::apiserver
