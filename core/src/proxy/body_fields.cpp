#include "proxy/body_fields.hpp"

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <system_error>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace gradatum::proxy {

namespace {

using Byte = unsigned char;

bool is_digit(Byte c) {
    return c >= '0' && c <= '9';
}
bool is_space(Byte c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
// What ends a plain run inside a string: its end, an escape, a control character (not allowed raw)
// or a byte of a multi-byte UTF-8 sequence (to be checked).
bool is_special(Byte c) {
    return c == '"' || c == '\\' || c < 0x20 || c >= 0x80;
}

const Byte* find_special(const Byte* p, const Byte* end) {
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    const __m128i space = _mm_set1_epi8(0x20);
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        // Signed compare: below 0x20 catches the control characters and, as negative bytes,
        // everything from 0x80 up.
        __m128i hit =
            _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                         _mm_cmplt_epi8(v, space));
        if (int mask = _mm_movemask_epi8(hit))
            return p + __builtin_ctz(static_cast<unsigned>(mask));
        p += 16;
    }
#endif
    while (p < end && !is_special(*p)) ++p;
    return p;
}

// Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong forms, no surrogates,
// nothing past U+10FFFF), 0 if there is none: nlohmann's table.
std::size_t utf8_sequence(const Byte* p, const Byte* end) {
    auto in = [&](std::size_t i, Byte lo, Byte hi) {
        return end - p > static_cast<std::ptrdiff_t>(i) && p[i] >= lo && p[i] <= hi;
    };
    Byte c = p[0];
    if (c >= 0xC2 && c <= 0xDF) return in(1, 0x80, 0xBF) ? 2 : 0;
    if (c == 0xE0) return in(1, 0xA0, 0xBF) && in(2, 0x80, 0xBF) ? 3 : 0;
    if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF)
        return in(1, 0x80, 0xBF) && in(2, 0x80, 0xBF) ? 3 : 0;
    if (c == 0xED) return in(1, 0x80, 0x9F) && in(2, 0x80, 0xBF) ? 3 : 0;
    if (c == 0xF0) return in(1, 0x90, 0xBF) && in(2, 0x80, 0xBF) && in(3, 0x80, 0xBF) ? 4 : 0;
    if (c >= 0xF1 && c <= 0xF3)
        return in(1, 0x80, 0xBF) && in(2, 0x80, 0xBF) && in(3, 0x80, 0xBF) ? 4 : 0;
    if (c == 0xF4) return in(1, 0x80, 0x8F) && in(2, 0x80, 0xBF) && in(3, 0x80, 0xBF) ? 4 : 0;
    return 0;
}

std::size_t encode_utf8(std::uint32_t cp, char* out) {
    if (cp < 0x80) {
        out[0] = static_cast<char>(cp);
        return 1;
    }
    if (cp < 0x800) {
        out[0] = static_cast<char>(0xC0 | (cp >> 6));
        out[1] = static_cast<char>(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = static_cast<char>(0xE0 | (cp >> 12));
        out[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out[2] = static_cast<char>(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = static_cast<char>(0xF0 | (cp >> 18));
    out[1] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out[2] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out[3] = static_cast<char>(0x80 | (cp & 0x3F));
    return 4;
}

// Where a scanned string's decoded bytes go.
struct Discard {
    void append(const Byte*, std::size_t) {}
};
struct Collect {
    std::string& text;
    void append(const Byte* p, std::size_t n) { text.append(reinterpret_cast<const char*>(p), n); }
};
// A key, kept only as long as it could still be "model" or "stream".
struct ShortKey {
    char text[8];
    std::size_t size = 0;
    void append(const Byte* p, std::size_t n) {
        if (size + n > sizeof text) {
            size = sizeof text + 1;  // too long to be either
            return;
        }
        std::memcpy(text + size, p, n);
        size += n;
    }
    bool is(std::string_view name) const {
        return size == name.size() && std::memcmp(text, name.data(), size) == 0;
    }
};

class Scanner {
  public:
    explicit Scanner(std::string_view body)
        : p_(reinterpret_cast<const Byte*>(body.data())), end_(p_ + body.size()) {}

    BodyFields run() {
        BodyFields found;
        if (end_ - p_ >= 3 && p_[0] == 0xEF && p_[1] == 0xBB && p_[2] == 0xBF) p_ += 3;
        skip_space();
        if (!next_is('{')) return {};
        ++p_;
        skip_space();
        if (next_is('}')) return finish(found);
        bool model_seen = false, stream_seen = false;
        for (;;) {
            if (!next_is('"')) return {};
            ShortKey key;
            if (!scan_string(key) || !colon()) return {};
            if (!model_seen && key.is("model")) {
                model_seen = true;
                if (next_is('"')) {
                    found.model.emplace();
                    Collect into{*found.model};
                    if (!scan_string(into)) return {};
                } else if (!skip_value()) {
                    return {};
                }
            } else if (!stream_seen && key.is("stream")) {
                stream_seen = true;
                if (!skip_value()) return {};
                found.stream = last_was_true_;
            } else if (!skip_value()) {
                return {};
            }
            if (model_seen && stream_seen) return found;
            skip_space();
            if (next_is('}')) return finish(found);
            if (!next_is(',')) return {};
            ++p_;
            skip_space();
        }
    }

  private:
    // At the top-level object's '}': only whitespace may follow, up to the end or a NUL byte
    // (nlohmann reads a NUL where a token starts as the end of its input).
    BodyFields finish(const BodyFields& found) {
        ++p_;
        skip_space();
        return p_ == end_ || *p_ == '\0' ? found : BodyFields{};
    }

    bool next_is(Byte c) const { return p_ < end_ && *p_ == c; }
    void skip_space() {
        while (p_ < end_ && is_space(*p_)) ++p_;
    }
    // After a key: the ':' and the whitespace around it, up to the value.
    bool colon() {
        skip_space();
        if (!next_is(':')) return false;
        ++p_;
        skip_space();
        return true;
    }

    // One value and everything in it, at p_ (whitespace already skipped). Containers are followed
    // by a stack of their kinds, so that no input can recurse.
    bool skip_value() {
        last_was_true_ = false;
        std::string open;  // '{' or '[' per level below this value
        for (;;) {
            if (p_ == end_) return false;
            switch (*p_) {
                case '"': {
                    Discard none;
                    if (!scan_string(none)) return false;
                    break;
                }
                case '{':
                    ++p_;
                    skip_space();
                    if (next_is('}')) {
                        ++p_;
                        break;
                    }
                    open.push_back('{');
                    if (!member_key()) return false;
                    continue;
                case '[':
                    ++p_;
                    skip_space();
                    if (next_is(']')) {
                        ++p_;
                        break;
                    }
                    open.push_back('[');
                    continue;
                case 't':
                    if (!literal("true")) return false;
                    last_was_true_ = open.empty();
                    break;
                case 'f':
                    if (!literal("false")) return false;
                    break;
                case 'n':
                    if (!literal("null")) return false;
                    break;
                default:
                    if (!skip_number()) return false;
                    break;
            }
            // A value ended: close what it ends, or move to the next member or element.
            for (;;) {
                if (open.empty()) return true;
                skip_space();
                if (p_ == end_) return false;
                Byte c = *p_++;
                if (c == (open.back() == '{' ? '}' : ']')) {
                    open.pop_back();
                    continue;
                }
                if (c != ',') return false;
                skip_space();
                if (open.back() == '{' && !member_key()) return false;
                break;
            }
            skip_space();
        }
    }

    // A nested object's key and its ':'.
    bool member_key() {
        if (!next_is('"')) return false;
        Discard none;
        return scan_string(none) && colon();
    }

    bool literal(std::string_view word) {
        if (static_cast<std::size_t>(end_ - p_) < word.size() ||
            std::memcmp(p_, word.data(), word.size()) != 0)
            return false;
        p_ += word.size();
        return true;
    }

    // The string at p_ (its opening quote), checked and its decoded bytes given to `out`.
    template <class Sink>
    bool scan_string(Sink& out) {
        ++p_;
        for (;;) {
            const Byte* run = p_;
            p_ = find_special(p_, end_);
            out.append(run, static_cast<std::size_t>(p_ - run));
            if (p_ == end_) return false;
            Byte c = *p_;
            if (c == '"') {
                ++p_;
                return true;
            }
            if (c == '\\') {
                if (!escape(out)) return false;
            } else if (c < 0x20) {
                return false;
            } else {
                std::size_t n = utf8_sequence(p_, end_);
                if (n == 0) return false;
                out.append(p_, n);
                p_ += n;
            }
        }
    }

    template <class Sink>
    bool escape(Sink& out) {
        ++p_;
        if (p_ == end_) return false;
        Byte c = *p_++;
        Byte plain;
        switch (c) {
            case '"':
            case '\\':
            case '/':
                plain = c;
                break;
            case 'b':
                plain = '\b';
                break;
            case 'f':
                plain = '\f';
                break;
            case 'n':
                plain = '\n';
                break;
            case 'r':
                plain = '\r';
                break;
            case 't':
                plain = '\t';
                break;
            case 'u': {
                std::uint32_t cp;
                if (!hex4(cp)) return false;
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    // A high surrogate must be followed by an escaped low one.
                    std::uint32_t low;
                    if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
                    p_ += 2;
                    if (!hex4(low) || low < 0xDC00 || low > 0xDFFF) return false;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    return false;
                }
                char utf8[4];
                std::size_t n = encode_utf8(cp, utf8);
                out.append(reinterpret_cast<const Byte*>(utf8), n);
                return true;
            }
            default:
                return false;
        }
        out.append(&plain, 1);
        return true;
    }

    bool hex4(std::uint32_t& value) {
        if (end_ - p_ < 4) return false;
        value = 0;
        for (int i = 0; i < 4; ++i) {
            Byte c = *p_++;
            std::uint32_t digit;
            if (is_digit(c))
                digit = c - '0';
            else if (c >= 'a' && c <= 'f')
                digit = c - 'a' + 10;
            else if (c >= 'A' && c <= 'F')
                digit = c - 'A' + 10;
            else
                return false;
            value = value * 16 + digit;
        }
        return true;
    }

    // RFC 8259's number, ending at the first byte that cannot continue it (as nlohmann's lexer
    // does); one whose value a double cannot hold is an error there, so here too.
    bool skip_number() {
        const Byte* start = p_;
        if (next_is('-')) ++p_;
        const Byte* digits = p_;
        if (next_is('0')) {
            ++p_;
        } else if (p_ < end_ && *p_ >= '1' && *p_ <= '9') {
            while (p_ < end_ && is_digit(*p_)) ++p_;
        } else {
            return false;
        }
        const Byte* digits_end = p_;
        const Byte* fraction = nullptr;
        const Byte* fraction_end = nullptr;
        if (next_is('.')) {
            fraction = ++p_;
            if (p_ == end_ || !is_digit(*p_)) return false;
            while (p_ < end_ && is_digit(*p_)) ++p_;
            fraction_end = p_;
        }
        const Byte* exponent = nullptr;
        if (next_is('e') || next_is('E')) {
            ++p_;
            if (next_is('+') || next_is('-')) ++p_;
            exponent = p_;
            if (p_ == end_ || !is_digit(*p_)) return false;
            while (p_ < end_ && is_digit(*p_)) ++p_;
        }
        // Without an exponent only 309 integer digits or more can reach DBL_MAX (~1.8e308).
        if (!exponent && digits_end - digits < 309) return true;
        return fits_double(start, digits, digits_end, fraction, fraction_end, exponent);
    }

    // Whether the number [start, p_) is finite as a double: decided from its decimal magnitude,
    // and by converting it only when that is 309 (values in [1e308, 1e309)).
    bool fits_double(const Byte* start, const Byte* digits, const Byte* digits_end,
                     const Byte* fraction, const Byte* fraction_end, const Byte* exponent) {
        // magnitude: the value is in [10^(magnitude-1), 10^magnitude).
        long magnitude;
        const Byte* first = digits;
        while (first < digits_end && *first == '0') ++first;
        if (first < digits_end) {
            magnitude = digits_end - first;
        } else {
            const Byte* f = fraction;
            while (f && f < fraction_end && *f == '0') ++f;
            if (!f || f == fraction_end) return true;  // zero, whatever the exponent
            magnitude = -(f - fraction);
        }
        if (exponent) {
            bool negative = exponent[-1] == '-';
            long e = 0;
            for (const Byte* d = exponent; d < p_; ++d) {
                if (e < 100'000'000) e = e * 10 + (*d - '0');  // far past any double; no overflow
            }
            magnitude += negative ? -e : e;
        }
        if (magnitude <= 308) return true;
        if (magnitude >= 310) return false;
        double value;
        auto [end, error] = std::from_chars(reinterpret_cast<const char*>(start),
                                            reinterpret_cast<const char*>(p_), value);
        (void)end;
        return error == std::errc{};
    }

    const Byte* p_;
    const Byte* end_;
    bool last_was_true_ = false;  // the value skip_value() last went over was the literal true
};

}  // namespace

BodyFields scan_body_fields(std::string_view body) {
    return Scanner(body).run();
}

}  // namespace gradatum::proxy
