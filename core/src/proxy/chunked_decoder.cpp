#include "chunked_decoder.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace gradatum::proxy {

bool parse_chunk_size(const std::string& line, uint64_t& size) {
    size_t end = line.find_first_of("; \t\r");
    if (end == std::string::npos) end = line.size();
    if (end == 0 || end > 15) return false;
    // Only whitespace or an extension may follow the digits.
    if (end < line.size() && line.find_first_not_of(" \t", end) != std::string::npos &&
        line[line.find_first_not_of(" \t", end)] != ';') {
        return false;
    }
    uint64_t value = 0;
    for (size_t i = 0; i < end; ++i) {
        auto c = static_cast<unsigned char>(line[i]);
        if (!std::isxdigit(c)) return false;
        value = value * 16 +
                static_cast<uint64_t>(std::isdigit(c) ? c - '0' : std::tolower(c) - 'a' + 10);
    }
    size = value;
    return true;
}

bool ChunkedDecoder::end_size_line() {
    uint64_t size = 0;
    if (!parse_chunk_size(line_, size)) return false;
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

void ChunkedRelay::keep_tail(const char* data, size_t size) {
    if (size >= 2) {
        tail_.assign(data + size - 2, 2);
    } else {
        tail_.append(data, size);
        if (tail_.size() > 2) tail_.erase(0, tail_.size() - 2);
    }
}

bool ChunkedRelay::scan(const char* data, size_t size) {
    released_.clear();
    committed_ = 0;
    size_t i = 0;
    while (i < size && state_ != State::finished && state_ != State::error) {
        if (state_ == State::payload) {
            size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, size - i));
            keep_tail(data + i, take);
            i += take;
            remaining_ -= take;
            if (remaining_ == 0) state_ = State::payload_end;
            committed_ = i;
            continue;
        }
        // A control line: a chunk size, the CRLF after a payload, or a trailer field.
        const char* newline = static_cast<const char*>(std::memchr(data + i, '\n', size - i));
        size_t end = newline ? static_cast<size_t>(newline - data) : size;
        line_.append(data + i, end - i);
        if (line_.size() > 4096) {
            state_ = State::error;
            break;
        }
        if (!newline) {
            i = size;
            break;  // the line goes on in the next read
        }
        i = end + 1;
        if (!line_.empty() && line_.back() == '\r') line_.pop_back();
        if (state_ == State::size_line) {
            uint64_t chunk = 0;
            if (!parse_chunk_size(line_, chunk)) {
                state_ = State::error;
            } else if (chunk == 0) {
                state_ = State::trailer;  // the last chunk: never passed on
                pending_.clear();
            } else {
                state_ = State::payload;
                remaining_ = chunk;
                released_ += pending_;
                pending_.clear();
                committed_ = i;
            }
        } else if (state_ == State::payload_end) {
            if (!line_.empty()) {
                state_ = State::error;
            } else {
                state_ = State::size_line;
                released_ += pending_;
                pending_.clear();
                committed_ = i;
            }
        } else if (line_.empty()) {
            state_ = State::finished;  // the empty line after the trailer
        }
        line_.clear();
    }
    used_ = i;
    // A line cut by this read: its bytes wait for the rest of it.
    if ((state_ == State::size_line || state_ == State::payload_end) && !line_.empty()) {
        pending_.append(data + committed_, size - committed_);
    }
    return state_ != State::error;
}

bool ChunkedRelay::close_open_chunk(char filler, size_t limit, std::string& out) const {
    out.clear();
    if (state_ == State::payload) {
        if (remaining_ > limit) return false;
        out.assign(static_cast<size_t>(remaining_), filler);
        out += "\r\n";
    } else if (state_ == State::payload_end) {
        out = "\r\n";  // a partial CRLF was held back, never sent
    }
    return true;
}

}  // namespace gradatum::proxy
