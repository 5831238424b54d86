// Definitions of decode<T>/encode<T> (declared in orch/api/codec.hpp): the member walk over
// Boost.Describe descriptors. Heavy to compile; include it only in the .cpp files that
// instantiate the codec for new types. Not API: names here may change.
//
// Thread-safety: reentrant; the per-type name tables are built once (function-local statics).
#pragma once

#include <algorithm>
#include <boost/describe/members.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>
#include <boost/mp11/algorithm.hpp>
#include <boost/mp11/list.hpp>
#include <charconv>
#include <concepts>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "orch/api/codec.hpp"
#include "orch/api/int_or_string.hpp"
#include "orch/status.hpp"

namespace orch::api::detail {

template <class T>
struct IsOptional : std::false_type {};
template <class T>
struct IsOptional<std::optional<T>> : std::true_type {};

template <class T>
struct IsVector : std::false_type {};
template <class T, class A>
struct IsVector<std::vector<T, A>> : std::true_type {};

template <class T>
struct IsStringMap : std::false_type {};
template <class T, class C, class A>
struct IsStringMap<std::map<std::string, T, C, A>> : std::true_type {};

template <class T>
concept Described = boost::describe::has_describe_members<T>::value;

template <class T>
concept StringEncoded = requires(std::string_view text, const T& value) {
  { T::parse(text) } -> std::same_as<Result<T>>;
  { value.to_string() } -> std::convertible_to<std::string>;
};

template <class T>
concept HasJsonNames = requires { T::kJsonNames; };
template <class T>
concept HasAlwaysEmit = requires { T::kAlwaysEmit; };

template <class T>
using Members = boost::describe::describe_members<T, boost::describe::mod_public>;

// JSON names and always-emit flags of T's members, in declaration order.
struct MemberTable {
  std::vector<std::string> names;
  std::vector<bool> always;
  bool contains(std::string_view key) const {
    return std::find(names.begin(), names.end(), key) != names.end();
  }
};

template <class T>
const MemberTable& member_table() {
  static const MemberTable table = [] {
    MemberTable t;
    boost::mp11::mp_for_each<Members<T>>([&](auto d) {
      const std::string_view member = d.name;
      std::string name;
      if constexpr (HasJsonNames<T>) {
        for (const JsonNameOverride& o : T::kJsonNames) {
          if (o.member == member) name = std::string(o.json);
        }
      }
      if (name.empty()) name = json_name(member);
      bool always = false;
      if constexpr (HasAlwaysEmit<T>) {
        for (std::string_view m : T::kAlwaysEmit) always = always || m == member;
      }
      t.names.push_back(std::move(name));
      t.always.push_back(always);
    });
    return t;
  }();
  return table;
}

// ---------------------------------------------------------------------------------------------
// Decode

template <class T>
Status decode_into(const boost::json::value& v, T& out, DecodeContext& ctx);

template <class Int>
Status decode_integer(const boost::json::value& v, Int& out, DecodeContext& ctx) {
  constexpr auto kMin = std::numeric_limits<Int>::min();
  constexpr auto kMax = std::numeric_limits<Int>::max();
  auto out_of_range = [&](const std::string& text) {
    return ctx.value_error("value " + text + " is out of range for " +
                           (sizeof(Int) == 4 ? "int32" : "int64"));
  };
  if (v.is_int64()) {
    const std::int64_t i = v.get_int64();
    if (i < kMin || i > kMax) return out_of_range(std::to_string(i));
    out = static_cast<Int>(i);
    return {};
  }
  if (v.is_uint64()) {
    const std::uint64_t u = v.get_uint64();
    if (u > static_cast<std::uint64_t>(kMax)) return out_of_range(std::to_string(u));
    out = static_cast<Int>(u);
    return {};
  }
  if (v.is_double()) {
    // YAML and some clients write whole numbers as 1.0; anything fractional is an error.
    const double d = v.get_double();
    if (d != d || d < static_cast<double>(kMin) || d > static_cast<double>(kMax) ||
        static_cast<double>(static_cast<Int>(d)) != d) {
      return ctx.type_error("integer", v);
    }
    out = static_cast<Int>(d);
    return {};
  }
  return ctx.type_error("integer", v);
}

// The text of a JSON number, for string-encoded types that accept numbers (Quantity).
inline std::string number_text(const boost::json::value& v) {
  if (v.is_int64()) return std::to_string(v.get_int64());
  if (v.is_uint64()) return std::to_string(v.get_uint64());
  char buf[64];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, v.get_double());
  return ec == std::errc() ? std::string(buf, ptr) : std::string();
}

// Not inlined: nested structs would otherwise be inlined into their parents, multiplying the
// code the optimizer works through (Pod alone nests ~40 structs).
template <Described T>
[[gnu::noinline]] Status decode_struct(const boost::json::value& v, T& out, DecodeContext& ctx) {
  if (!v.is_object()) return ctx.type_error("object", v);
  const boost::json::object& obj = v.get_object();
  const MemberTable& table = member_table<T>();
  Status status;
  std::size_t index = 0;
  boost::mp11::mp_for_each<Members<T>>([&](auto d) {
    const std::size_t i = index++;
    if (!status.ok()) return;
    const auto it = obj.find(table.names[i]);
    if (it == obj.end() || it->value().is_null()) return;
    const std::size_t saved = ctx.push_member(table.names[i]);
    status = decode_into(it->value(), out.*d.pointer, ctx);
    ctx.pop(saved);
  });
  if (!status.ok()) return status;
  for (const auto& kv : obj) {
    if (!table.contains(kv.key())) ctx.add_unknown(kv.key());
  }
  return status;
}

template <class T>
Status decode_into(const boost::json::value& v, T& out, DecodeContext& ctx) {
  if constexpr (std::is_same_v<T, boost::json::value>) {
    out = v;
    return {};
  } else if constexpr (std::is_same_v<T, boost::json::object>) {
    if (!v.is_object()) return ctx.type_error("object", v);
    out = v.get_object();
    return {};
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!v.is_string()) return ctx.type_error("string", v);
    out.assign(v.get_string().data(), v.get_string().size());
    return {};
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_bool()) return ctx.type_error("boolean", v);
    out = v.get_bool();
    return {};
  } else if constexpr (std::is_same_v<T, std::int32_t> || std::is_same_v<T, std::int64_t>) {
    return decode_integer(v, out, ctx);
  } else if constexpr (std::is_same_v<T, double>) {
    if (!v.is_number()) return ctx.type_error("number", v);
    out = v.to_number<double>();
    return {};
  } else if constexpr (std::is_same_v<T, IntOrString>) {
    if (v.is_string()) {
      out = IntOrString(std::string(v.get_string().data(), v.get_string().size()));
      return {};
    }
    if (!v.is_number()) return ctx.type_error("integer or string", v);
    std::int32_t i = 0;
    ORCH_TRY(decode_integer(v, i, ctx));
    out = IntOrString(i);
    return {};
  } else if constexpr (IsOptional<T>::value) {
    if (v.is_null()) {
      out.reset();
      return {};
    }
    out.emplace();
    return decode_into(v, *out, ctx);
  } else if constexpr (IsVector<T>::value) {
    if (!v.is_array()) return ctx.type_error("array", v);
    const boost::json::array& arr = v.get_array();
    out.clear();
    out.resize(arr.size());
    for (std::size_t i = 0; i < arr.size(); ++i) {
      if (arr[i].is_null()) continue;
      const std::size_t saved = ctx.push_index(i);
      Status s = decode_into(arr[i], out[i], ctx);
      ctx.pop(saved);
      if (!s.ok()) return s;
    }
    return {};
  } else if constexpr (IsStringMap<T>::value) {
    if (!v.is_object()) return ctx.type_error("object", v);
    out.clear();
    for (const auto& kv : v.get_object()) {
      auto& slot = out[std::string(kv.key())];
      if (kv.value().is_null()) continue;
      const std::size_t saved = ctx.push_key(kv.key());
      Status s = decode_into(kv.value(), slot, ctx);
      ctx.pop(saved);
      if (!s.ok()) return s;
    }
    return {};
  } else if constexpr (StringEncoded<T>) {
    std::string text;
    if (v.is_string()) {
      text.assign(v.get_string().data(), v.get_string().size());
    } else if (v.is_number()) {
      text = number_text(v);
      Result<T> parsed = T::parse(text);
      if (!parsed.ok()) return ctx.type_error("string", v);
      out = std::move(parsed).value();
      return {};
    } else {
      return ctx.type_error("string", v);
    }
    Result<T> parsed = T::parse(text);
    if (!parsed.ok()) return ctx.value_error(parsed.status().message());
    out = std::move(parsed).value();
    return {};
  } else if constexpr (Described<T>) {
    return decode_struct(v, out, ctx);
  } else {
    static_assert(sizeof(T) == 0, "type not supported by the generic JSON codec");
    return {};
  }
}

// ---------------------------------------------------------------------------------------------
// Encode

template <class T>
boost::json::value encode_value(const T& v);

// Whether a plain (not always-emitted) member holding `v` is left out (Go's omitempty).
template <class T>
bool omit_when_plain(const T& v) {
  if constexpr (std::is_same_v<T, boost::json::value>) {
    return v.is_null();
  } else if constexpr (std::is_same_v<T, boost::json::object>) {
    return v.empty();
  } else if constexpr (std::is_same_v<T, std::string>) {
    return v.empty();
  } else if constexpr (std::is_same_v<T, bool>) {
    return !v;
  } else if constexpr (std::is_arithmetic_v<T>) {
    return v == 0;
  } else if constexpr (std::is_same_v<T, IntOrString>) {
    return v.is_zero_int();
  } else if constexpr (IsOptional<T>::value) {
    return !v.has_value();
  } else if constexpr (IsVector<T>::value || IsStringMap<T>::value) {
    return v.empty();
  } else {
    return false;  // nested structs and string-encoded types are always written
  }
}

template <Described T>
[[gnu::noinline]] boost::json::value encode_struct(const T& v) {
  const MemberTable& table = member_table<T>();
  boost::json::object obj;
  obj.reserve(table.names.size());
  std::size_t index = 0;
  boost::mp11::mp_for_each<Members<T>>([&](auto d) {
    const std::size_t i = index++;
    const auto& member = v.*d.pointer;
    if (table.always[i]) {
      obj.emplace(table.names[i], encode_value(member));
    } else if (!omit_when_plain(member)) {
      obj.emplace(table.names[i], encode_value(member));
    }
  });
  return obj;
}

template <class T>
boost::json::value encode_value(const T& v) {
  if constexpr (std::is_same_v<T, boost::json::value>) {
    return v;
  } else if constexpr (std::is_same_v<T, boost::json::object>) {
    return v;
  } else if constexpr (std::is_same_v<T, std::string>) {
    return boost::json::string(v);
  } else if constexpr (std::is_same_v<T, bool>) {
    return v;
  } else if constexpr (std::is_same_v<T, std::int32_t> || std::is_same_v<T, std::int64_t>) {
    return static_cast<std::int64_t>(v);
  } else if constexpr (std::is_same_v<T, double>) {
    return v;
  } else if constexpr (std::is_same_v<T, IntOrString>) {
    if (v.is_string()) return boost::json::string(v.str_value());
    return static_cast<std::int64_t>(v.int_value());
  } else if constexpr (IsOptional<T>::value) {
    if (!v.has_value()) return nullptr;
    return encode_value(*v);
  } else if constexpr (IsVector<T>::value) {
    boost::json::array arr;
    arr.reserve(v.size());
    for (const auto& e : v) arr.push_back(encode_value(e));
    return arr;
  } else if constexpr (IsStringMap<T>::value) {
    boost::json::object obj;
    obj.reserve(v.size());
    for (const auto& [k, e] : v) obj.emplace(k, encode_value(e));
    return obj;
  } else if constexpr (StringEncoded<T>) {
    return boost::json::string(v.to_string());
  } else if constexpr (Described<T>) {
    return encode_struct(v);
  } else {
    static_assert(sizeof(T) == 0, "type not supported by the generic JSON codec");
    return nullptr;
  }
}

}  // namespace orch::api::detail

namespace orch::api {

template <class T>
Result<T> decode(const boost::json::value& value, DecodeContext& ctx) {
  T out{};
  ORCH_TRY(detail::decode_into(value, out, ctx));
  if (ctx.options().strict) ORCH_TRY(ctx.strict_status());
  return out;
}

template <class T>
boost::json::value encode(const T& value) {
  return detail::encode_value(value);
}

}  // namespace orch::api

// Explicit instantiation of decode/encode for one type, in a .cpp that includes this header.
#define ORCH_API_INSTANTIATE_CODEC(T)                                                         \
  template ::orch::Result<T> orch::api::decode<T>(const boost::json::value&,                 \
                                                  ::orch::api::DecodeContext&);              \
  template boost::json::value orch::api::encode<T>(const T&)

// Explicit instantiation (definition / declaration) of the codec's internals for one nested type,
// so that a type shared by several kinds is compiled in one .cpp only.
#define ORCH_API_INSTANTIATE_CODEC_DETAIL(T)                                                  \
  template ::orch::Status orch::api::detail::decode_into<T>(const boost::json::value&, T&,   \
                                                            ::orch::api::DecodeContext&);    \
  template boost::json::value orch::api::detail::encode_value<T>(const T&)
#define ORCH_API_EXTERN_CODEC_DETAIL(T)                                                       \
  extern template ::orch::Status orch::api::detail::decode_into<T>(                          \
      const boost::json::value&, T&, ::orch::api::DecodeContext&);                           \
  extern template boost::json::value orch::api::detail::encode_value<T>(const T&)
