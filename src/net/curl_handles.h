#pragma once
// Move-only RAII owners of libcurl objects, and the one-time global init.

#include <utility>

#include <curl/curl.h>

namespace blobfetch::detail {

// Calls curl_global_init exactly once per process (thread-safe); never
// calls curl_global_cleanup (other users of libcurl may share the process).
void ensure_curl_global_init();

template <class T, void (*Free)(T *)>
class CurlOwner {
public:
    CurlOwner() = default;
    explicit CurlOwner(T *p) : m_p(p) {}
    ~CurlOwner() { reset(); }
    CurlOwner(CurlOwner &&o) noexcept : m_p(std::exchange(o.m_p, nullptr)) {}
    CurlOwner &operator=(CurlOwner &&o) noexcept {
        if (this != &o) {
            reset();  // free the old handle first (no leak on move-assignment)
            m_p = std::exchange(o.m_p, nullptr);
        }
        return *this;
    }
    CurlOwner(const CurlOwner &) = delete;
    CurlOwner &operator=(const CurlOwner &) = delete;

    T *get() const { return m_p; }
    explicit operator bool() const { return m_p != nullptr; }
    void reset(T *p = nullptr) {
        if (m_p) Free(m_p);
        m_p = p;
    }

private:
    T *m_p = nullptr;
};

inline void free_easy(CURL *p) { curl_easy_cleanup(p); }
inline void free_multi(CURLM *p) { curl_multi_cleanup(p); }
inline void free_slist(curl_slist *p) { curl_slist_free_all(p); }
inline void free_url(CURLU *p) { curl_url_cleanup(p); }

using CurlEasy = CurlOwner<CURL, free_easy>;
using CurlMulti = CurlOwner<CURLM, free_multi>;
using CurlSlist = CurlOwner<curl_slist, free_slist>;
using CurlUrl = CurlOwner<CURLU, free_url>;

// Appends a copy of `line`; returns false when out of memory (list unchanged).
inline bool slist_append(CurlSlist &list, const char *line) {
    curl_slist *head = curl_slist_append(list.get(), line);
    if (!head) return false;
    if (!list) list = CurlSlist(head);  // the first node becomes the owned head
    return true;
}

}  // namespace blobfetch::detail
