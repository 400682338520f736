#include "chunked_decoder.hpp"

#include <algorithm>
#include <cctype>

namespace gradatum::proxy {

bool ChunkedDecoder::end_size_line() {
    // "1a;ext=1\r" -> 0x1a
    size_t end = line_.find_first_of(";\r \t");
    std::string digits = line_.substr(0, end);
    if (digits.empty() || digits.size() > 15) return false;
    uint64_t size = 0;
    for (char c : digits) {
        if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
        size = size * 16 +
               static_cast<uint64_t>(std::isdigit(static_cast<unsigned char>(c))
                                         ? c - '0'
                                         : std::tolower(static_cast<unsigned char>(c)) - 'a' + 10);
    }
    remaining_ = size;
    state_ = size == 0 ? State::trailer : State::payload;
    line_.clear();
    return true;
}

bool ChunkedDecoder::feed(const char* data, size_t size, std::string& out, size_t* used) {
    size_t i = 0;
    while (i < size && state_ != State::finished) {
        switch (state_) {
            case State::size_line:
            case State::payload_end:
            case State::trailer: {
                char c = data[i++];
                if (c != '\n') {
                    line_ += c;
                    if (line_.size() > 4096) state_ = State::error;
                    break;
                }
                if (!line_.empty() && line_.back() == '\r') line_.pop_back();
                if (state_ == State::size_line) {
                    if (!end_size_line()) state_ = State::error;
                } else if (state_ == State::payload_end) {
                    if (!line_.empty()) state_ = State::error;
                    state_ = state_ == State::error ? state_ : State::size_line;
                    line_.clear();
                } else if (line_.empty()) {
                    state_ = State::finished;  // the empty line after the trailer
                } else {
                    line_.clear();  // a trailer field: not forwarded
                }
                break;
            }
            case State::payload: {
                size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, size - i));
                out.append(data + i, take);
                i += take;
                remaining_ -= take;
                if (remaining_ == 0) state_ = State::payload_end;
                break;
            }
            case State::finished:
                break;  // not reached: the loop ends there; bytes after the end are not ours
            case State::error:
                return false;
        }
    }
    if (used) *used = i;
    return state_ != State::error;
}

}  // namespace gradatum::proxy
