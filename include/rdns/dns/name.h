#pragma once
/// Domain names and ASCII text, locale-independent. DNS names compare case-insensitively in
/// ASCII only (RFC 4343 §3); `std::tolower` follows the C locale (in tr_TR 'I' becomes 0xFD),
/// so nothing here uses <cctype>. Bytes >= 0x80 are never changed.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace rdns::dns {

/// 'A'-'Z' as 'a'-'z'; every other byte unchanged.
[[nodiscard]] constexpr char ascii_lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}
/// '0'-'9'.
[[nodiscard]] constexpr bool is_ascii_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}
/// 'a'-'z', 'A'-'Z'.
[[nodiscard]] constexpr bool is_ascii_alpha(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
/// A letter or a digit.
[[nodiscard]] constexpr bool is_ascii_alnum(char c) noexcept {
  return is_ascii_alpha(c) || is_ascii_digit(c);
}
/// ASCII white space as `std::isspace` sees it in the C locale: ' ', '\t', '\n', '\v', '\f',
/// '\r'.
[[nodiscard]] constexpr bool is_ascii_space(char c) noexcept {
  return c == ' ' || (c >= '\t' && c <= '\r');
}
/// An ASCII control: 0x00-0x1f (CR, LF, NUL, TAB, ESC, ...) and DEL. Bytes >= 0x80 are not.
[[nodiscard]] constexpr bool is_ascii_control(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}
/// Printable ASCII, space included: 0x20-0x7e.
[[nodiscard]] constexpr bool is_ascii_printable(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  return u >= 0x20 && u < 0x7f;
}
/// Visible ASCII, printable without the space: 0x21-0x7e (RFC 5234 VCHAR).
[[nodiscard]] constexpr bool is_ascii_visible(char c) noexcept {
  return c != ' ' && is_ascii_printable(c);
}

/// True if `text` holds an ASCII control (is_ascii_control): input no honest client sends.
[[nodiscard]] bool has_control(std::string_view text) noexcept;

/// `text` cut to `max_length` bytes, each byte that is not printable ASCII (controls, DEL,
/// bytes >= 0x80) replaced by '?': one output byte per input byte, safe in a header or a log.
[[nodiscard]] std::string printable_ascii(std::string_view text, std::size_t max_length);

/// `text` with 'A'-'Z' lower-cased, every other byte unchanged.
[[nodiscard]] std::string to_lower(std::string_view text);

/// ASCII case-insensitive equality ("Example.ORG" equals "example.org"; 'I' never equals 0xFD).
[[nodiscard]] bool iequals(std::string_view a, std::string_view b) noexcept;

/// `name` without one trailing dot: "example.org." -> "example.org". The root "." stays ".".
[[nodiscard]] std::string_view strip_trailing_dot(std::string_view name) noexcept;

/// True if `name` is `domain` or a name below it, label by label: "mail.example.org" and
/// "Example.ORG." are at or below "example.org", "xexample.org" is not. ASCII case-insensitive,
/// one trailing dot ignored on either side. Everything is at or below the root ("" or ".").
[[nodiscard]] bool at_or_below(std::string_view name, std::string_view domain) noexcept;

/// The labels of `name`, left to right, split at every dot (views into `name`). No dot is
/// dropped, so validators see empty labels: "a..b" -> {"a", "", "b"}, "a.b." -> {"a", "b", ""};
/// strip_trailing_dot first for an absolute name. An empty name has no labels.
[[nodiscard]] std::vector<std::string_view> labels(std::string_view name);

/// The name one label up: "mail.example.org" -> "example.org", "org" and "org." -> "" (the
/// root). Repeated, it walks from `name` to the root.
[[nodiscard]] std::string_view parent(std::string_view name) noexcept;

/// The last label, one trailing dot ignored: "mail.example.org." -> "org", "localhost" ->
/// "localhost".
[[nodiscard]] std::string_view top_label(std::string_view name) noexcept;

}  // namespace rdns::dns
