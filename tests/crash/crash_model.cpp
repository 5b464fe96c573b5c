#include "crash/crash_model.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <fcntl.h>

#include "support/blob_content.h"
#include "support/process.h"

namespace blobfetch::crash {
namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kPage = 4096;

std::vector<std::string> split_tabs(const std::string &line) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (;;) {
        const std::size_t tab = line.find('\t', start);
        out.push_back(line.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
        if (tab == std::string::npos) return out;
        start = tab + 1;
    }
}

std::string parent_of(const std::string &path) {
    const std::size_t slash = path.rfind('/');
    return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

// Up to `n` elements of `v`, spread evenly (all of them when it has fewer).
template <class T>
std::vector<T> spread(const std::vector<T> &v, std::size_t n) {
    if (v.size() <= n) return v;
    std::vector<T> out;
    for (std::size_t i = 0; i < n; ++i) out.push_back(v[i * v.size() / n]);
    return out;
}

}  // namespace

const char *op_kind_name(OpKind kind) {
    static const char *names[] = {"open",  "write", "trunc", "falloc", "fsync", "fdatasync", "rename",
                                  "link",  "unlink", "rmdir", "mkdir", "dup",  "close",     "lock",
                                  "flock", "fail",  "inject", "drop"};
    return names[static_cast<int>(kind)];
}

const char *model_name(Model model) { return model == Model::posix ? "posix" : "ext4-ordered"; }

std::vector<Op> parse_log(const std::string &text) {
    std::vector<Op> ops;
    std::istringstream in(text);
    std::string line;
    std::size_t number = 0;
    while (std::getline(in, line)) {
        ++number;
        if (line.empty()) continue;
        const auto f = split_tabs(line);
        Op op;
        op.line = line;
        auto need = [&](std::size_t n) {
            if (f.size() < n) throw std::runtime_error("crash log line " + std::to_string(number) + " is short: " + line);
        };
        auto num = [&](std::size_t i) { return std::stoll(f.at(i)); };
        const std::string &k = f[0];
        if (k == "open") {
            need(4);
            op.kind = OpKind::open, op.fd = static_cast<int>(num(1)), op.path = f[2];
            op.flags = static_cast<unsigned>(std::stoul(f[3], nullptr, 16));
        } else if (k == "write") {
            need(6);
            op.kind = OpKind::write, op.fd = static_cast<int>(num(1)), op.offset = num(2), op.len = num(3);
            op.data_offset = std::stoull(f[4]);
        } else if (k == "trunc") {
            need(3);
            op.kind = OpKind::trunc, op.fd = static_cast<int>(num(1)), op.len = num(2);
        } else if (k == "falloc") {
            need(5);
            op.kind = OpKind::falloc, op.fd = static_cast<int>(num(1)), op.mode = static_cast<int>(num(2));
            op.offset = num(3), op.len = num(4);
        } else if (k == "fsync" || k == "fdatasync") {
            need(2);
            op.kind = k == "fsync" ? OpKind::fsync : OpKind::fdatasync, op.fd = static_cast<int>(num(1));
        } else if (k == "rename" || k == "link") {
            need(3);
            op.kind = k == "rename" ? OpKind::rename : OpKind::link, op.path = f[1], op.path2 = f[2];
            if (op.kind == OpKind::rename && f.size() > 3) op.flags = static_cast<unsigned>(num(3));
        } else if (k == "unlink" || k == "rmdir" || k == "mkdir") {
            need(2);
            op.kind = k == "unlink" ? OpKind::unlink : k == "rmdir" ? OpKind::rmdir : OpKind::mkdir, op.path = f[1];
        } else if (k == "dup") {
            need(3);
            op.kind = OpKind::dup, op.fd = static_cast<int>(num(1)), op.fd2 = static_cast<int>(num(2));
        } else if (k == "close") {
            need(2);
            op.kind = OpKind::close, op.fd = static_cast<int>(num(1));
        } else if (k == "lock" || k == "flock") {
            op.kind = k == "lock" ? OpKind::lock : OpKind::flock;
        } else if (k == "fail" || k == "inject") {
            op.kind = k == "fail" ? OpKind::fail : OpKind::inject;
            if (f.size() > 1) op.path = f[1];  // the operation's name
        } else if (k == "drop") {
            need(4);
            op.kind = OpKind::drop, op.fd = static_cast<int>(num(1)), op.offset = num(2), op.len = num(3);
        } else {
            throw std::runtime_error("crash log line " + std::to_string(number) + " is unknown: " + line);
        }
        ops.push_back(std::move(op));
    }
    return ops;
}

Tree read_tree(const std::string &root) {
    Tree t;
    for (const auto &e : fs::recursive_directory_iterator(root)) {
        const std::string rel = fs::relative(e.path(), root).string();
        if (e.is_directory()) t.dirs.insert(rel);
        else if (e.is_regular_file()) t.files[rel] = test::read_file(e.path().string());
    }
    return t;
}

void materialise(const Tree &tree, const std::string &root) {
    fs::create_directories(root);
    for (const auto &d : tree.dirs) fs::create_directories(fs::path(root) / d);
    for (const auto &[path, bytes] : tree.files) {
        // 0600 as blobfetch leaves its partial files; the content decides.
        test::write_file((fs::path(root) / path).string(), bytes);
    }
}

std::string tree_digest(const Tree &tree) {
    std::string all;
    for (const auto &d : tree.dirs) all += "d " + d + "\n";
    for (const auto &[path, bytes] : tree.files) all += "f " + path + " " + test::sha256_hex(bytes) + "\n";
    return test::sha256_hex(all);
}

CrashModel::CrashModel(std::vector<Op> ops, Tree initial, std::string data)
    : m_ops(std::move(ops)), m_initial(std::move(initial)), m_data(std::move(data)) {
    for (const auto &[path, bytes] : m_initial.files) m_initial_inodes[path] = m_inodes++;
    annotate();
}

void CrashModel::annotate() {
    m_an.assign(m_ops.size(), Annot{});
    std::map<std::string, int> names = m_initial_inodes;
    std::set<std::string> dirs = m_initial.dirs;
    dirs.insert(".");
    std::map<int, int> fd_ino;               // descriptor -> file inode
    std::map<int, std::string> fd_dir;       // descriptor -> directory
    std::map<int, std::int64_t> size, alloc;  // volatile size and allocated end of each inode
    for (const auto &[path, ino] : m_initial_inodes) size[ino] = alloc[ino] = static_cast<std::int64_t>(m_initial.files[path].size());
    auto file_of = [&](const Op &op) {
        auto it = fd_ino.find(op.fd);
        if (it == fd_ino.end()) throw std::runtime_error("crash log: '" + op.line + "' on a descriptor the model does not know");
        return it->second;
    };
    for (std::size_t i = 0; i < m_ops.size(); ++i) {
        const Op &op = m_ops[i];
        Annot &a = m_an[i];
        switch (op.kind) {
        case OpKind::open: {
            const bool tmpfile = (op.flags & __O_TMPFILE) == __O_TMPFILE;
            if (tmpfile) {
                a.ino = m_inodes++;
                a.creates = true;
                size[a.ino] = alloc[a.ino] = 0;
                fd_ino[op.fd] = a.ino;
                fd_dir.erase(op.fd);
            } else if (dirs.count(op.path)) {
                fd_dir[op.fd] = op.path;
                fd_ino.erase(op.fd);
            } else if (auto it = names.find(op.path); it != names.end()) {
                a.ino = it->second;
                fd_ino[op.fd] = a.ino;
                fd_dir.erase(op.fd);
                if ((op.flags & O_TRUNC) && size[a.ino] > 0) {
                    a.data = a.extends = true;
                    size[a.ino] = alloc[a.ino] = 0;
                }
            } else if (op.flags & O_CREAT) {
                a.ino = m_inodes++;
                a.creates = a.entry = true;
                a.dir = parent_of(op.path);
                names[op.path] = a.ino;
                size[a.ino] = alloc[a.ino] = 0;
                fd_ino[op.fd] = a.ino;
                fd_dir.erase(op.fd);
            } else {
                throw std::runtime_error("crash log: '" + op.line + "' opens a file the model never saw");
            }
            break;
        }
        case OpKind::write: {
            a.ino = file_of(op);
            a.data = true;
            const std::int64_t end = op.offset + op.len;
            a.extends = end > size[a.ino] || end > alloc[a.ino];
            size[a.ino] = std::max(size[a.ino], end);
            alloc[a.ino] = std::max(alloc[a.ino], end);
            break;
        }
        case OpKind::trunc:
            a.ino = file_of(op);
            a.data = a.extends = true;
            size[a.ino] = op.len;
            alloc[a.ino] = std::min(alloc[a.ino], op.len);
            break;
        case OpKind::falloc:
            a.ino = file_of(op);
            a.data = a.extends = true;
            if (op.mode != 0 && op.mode != 1 /* FALLOC_FL_KEEP_SIZE */)
                throw std::runtime_error("crash log: fallocate mode " + std::to_string(op.mode) + " is not modelled");
            if (op.mode == 0) size[a.ino] = std::max(size[a.ino], op.offset + op.len);
            alloc[a.ino] = std::max(alloc[a.ino], op.offset + op.len);
            break;
        case OpKind::fsync:
        case OpKind::fdatasync:
            if (auto d = fd_dir.find(op.fd); d != fd_dir.end()) {
                a.is_dir_sync = true;
                a.sync_dir = d->second;
            } else {
                a.ino = file_of(op);
            }
            break;
        case OpKind::rename: {
            if (dirs.count(op.path)) throw std::runtime_error("crash log: renaming a directory is not modelled: " + op.line);
            if (parent_of(op.path) != parent_of(op.path2))
                throw std::runtime_error("crash log: a rename across directories is not modelled: " + op.line);
            auto it = names.find(op.path);
            if (it == names.end()) throw std::runtime_error("crash log: '" + op.line + "' renames an unknown file");
            a.ino = it->second;
            a.entry = true;
            a.dir = parent_of(op.path);
            names.erase(it);
            names[op.path2] = a.ino;
            break;
        }
        case OpKind::link: {
            if (op.path.rfind("fd:", 0) == 0) {
                Op fake = op;
                fake.fd = std::stoi(op.path.substr(3));
                a.ino = file_of(fake);
            } else {
                auto it = names.find(op.path);
                if (it == names.end()) throw std::runtime_error("crash log: '" + op.line + "' links an unknown file");
                a.ino = it->second;
            }
            a.entry = true;
            a.dir = parent_of(op.path2);
            names[op.path2] = a.ino;
            break;
        }
        case OpKind::unlink: {
            auto it = names.find(op.path);
            if (it == names.end()) throw std::runtime_error("crash log: '" + op.line + "' removes an unknown file");
            a.ino = it->second;
            a.entry = true;
            a.dir = parent_of(op.path);
            names.erase(it);
            break;
        }
        case OpKind::mkdir:
            a.entry = true;
            a.dir = parent_of(op.path);
            dirs.insert(op.path);
            break;
        case OpKind::rmdir:
            a.entry = true;
            a.dir = parent_of(op.path);
            dirs.erase(op.path);
            break;
        case OpKind::dup:
            if (auto it = fd_ino.find(op.fd); it != fd_ino.end()) fd_ino[op.fd2] = it->second, fd_dir.erase(op.fd2);
            if (auto it = fd_dir.find(op.fd); it != fd_dir.end()) fd_dir[op.fd2] = it->second, fd_ino.erase(op.fd2);
            break;
        case OpKind::close:
            fd_ino.erase(op.fd);
            fd_dir.erase(op.fd);
            break;
        default:
            break;
        }
    }
}

CrashModel::Pending CrashModel::pending(std::size_t k, Model model) const {
    Pending p;
    if (model == Model::posix) {
        // A data op is durable once its file is synced, an entry op once
        // its directory is.
        std::set<int> synced_files;
        std::set<std::string> synced_dirs;
        std::vector<bool> durable(k, false);
        for (std::size_t i = k; i-- > 0;) {
            const Annot &a = m_an[i];
            if (m_ops[i].kind == OpKind::fsync || m_ops[i].kind == OpKind::fdatasync) {
                if (a.is_dir_sync) synced_dirs.insert(a.sync_dir);
                else synced_files.insert(a.ino);
            }
            if (a.data && synced_files.count(a.ino)) durable[i] = true;
            if (a.entry && synced_dirs.count(a.dir)) durable[i] = true;
        }
        for (std::size_t i = 0; i < k; ++i) {
            const Annot &a = m_an[i];
            if (durable[i]) continue;
            if (a.entry) p.entries[a.dir].push_back(i);
            else if (a.data && m_ops[i].kind == OpKind::write) p.data.push_back(i);
            else if (a.data) p.sizes.push_back(i);
        }
        return p;
    }
    // ext4 data=ordered: one journal. Metadata (entries, size and allocation
    // changes) commits in order; a sync of X commits the journal up to X's
    // last metadata change; an overwrite's data is durable when X is synced,
    // an extending write's goes with its metadata.
    std::size_t committed = 0;  // meta ops [0, committed) are durable
    std::map<int, std::size_t> last_meta_file;
    std::map<std::string, std::size_t> last_meta_dir;
    std::map<int, std::size_t> last_file_sync;  // inode -> index of its last sync before k
    for (std::size_t i = 0; i < k; ++i) {
        const Annot &a = m_an[i];
        const bool meta = a.entry || (a.data && a.extends);
        if (meta) {
            if (a.ino >= 0) last_meta_file[a.ino] = i;
            if (a.entry) last_meta_dir[a.dir] = i;
            if (m_ops[i].kind == OpKind::mkdir) last_meta_dir[m_ops[i].path] = i;
        }
        if (m_ops[i].kind == OpKind::fsync || m_ops[i].kind == OpKind::fdatasync) {
            if (a.is_dir_sync) {
                if (auto it = last_meta_dir.find(a.sync_dir); it != last_meta_dir.end()) committed = std::max(committed, it->second + 1);
            } else {
                if (auto it = last_meta_file.find(a.ino); it != last_meta_file.end()) committed = std::max(committed, it->second + 1);
                last_file_sync[a.ino] = i;
            }
        }
    }
    for (std::size_t i = 0; i < k; ++i) {
        const Annot &a = m_an[i];
        const bool meta = a.entry || (a.data && a.extends);
        if (meta) {
            if (i >= committed) p.journal.push_back(i);
        } else if (a.data) {
            auto s = last_file_sync.find(a.ino);
            if (s != last_file_sync.end() && s->second > i) continue;
            if (m_ops[i].kind == OpKind::write) p.data.push_back(i);
            else p.sizes.push_back(i);
        }
    }
    return p;
}

std::vector<std::size_t> CrashModel::unsynced(std::size_t k, Model model) const {
    Pending p = pending(k, model);
    std::vector<std::size_t> all = p.data;
    all.insert(all.end(), p.sizes.begin(), p.sizes.end());
    for (const auto &[d, v] : p.entries) all.insert(all.end(), v.begin(), v.end());
    all.insert(all.end(), p.journal.begin(), p.journal.end());
    std::sort(all.begin(), all.end());
    return all;
}

std::vector<CrashChoice> CrashModel::states(std::size_t k, Model model, std::size_t max_singles, std::size_t samples,
                                            std::mt19937_64 &rng) const {
    const Pending p = pending(k, model);
    std::vector<CrashChoice> out;
    std::vector<std::size_t> entries;
    for (const auto &[d, v] : p.entries) entries.insert(entries.end(), v.begin(), v.end());
    entries.insert(entries.end(), p.journal.begin(), p.journal.end());
    auto add = [&](CrashChoice c) { out.push_back(std::move(c)); };

    add({{}, {}, "all-kept"});
    {
        CrashChoice c{{}, {}, "all-lost"};
        c.lost.insert(p.data.begin(), p.data.end());
        c.lost.insert(p.sizes.begin(), p.sizes.end());
        c.lost.insert(entries.begin(), entries.end());
        add(c);
    }
    for (std::size_t w : spread(p.data, max_singles)) add({{w}, {}, "op#" + std::to_string(w) + "-lost"});
    if (!p.data.empty() || !p.sizes.empty()) {
        CrashChoice c{{}, {}, model == Model::posix ? "entries-kept-data-lost" : "journal-kept-overwrites-lost"};
        c.lost.insert(p.data.begin(), p.data.end());
        c.lost.insert(p.sizes.begin(), p.sizes.end());
        add(c);
    }
    if (!entries.empty()) {
        CrashChoice c{{}, {}, model == Model::posix ? "data-kept-entries-lost" : "overwrites-kept-journal-lost"};
        c.lost.insert(entries.begin(), entries.end());
        add(c);
    }
    // Prefixes of each directory's (of the journal's) unsynced entry ops.
    auto cuts = [&](const std::string &what, const std::vector<std::size_t> &v) {
        std::vector<std::size_t> at;
        for (std::size_t c = 1; c < v.size(); ++c) at.push_back(c);  // 0 and n are in the states above
        for (std::size_t c : spread(at, max_singles)) {
            CrashChoice ch{{}, {}, what + "-prefix" + std::to_string(c) + "/" + std::to_string(v.size())};
            ch.lost.insert(v.begin() + static_cast<std::ptrdiff_t>(c), v.end());
            add(ch);
        }
    };
    for (const auto &[d, v] : p.entries) cuts("dir:" + d, v);
    cuts("journal", p.journal);

    for (std::size_t s = 0; s < samples; ++s) {
        CrashChoice c{{}, {}, "sample#" + std::to_string(s)};
        for (std::size_t w : p.data) {
            switch (rng() % 3) {
            case 0: c.lost.insert(w); break;
            case 1: break;
            default: c.pages[w] = rng(); break;
            }
        }
        for (std::size_t z : p.sizes)
            if (rng() % 2) c.lost.insert(z);
        auto prefix = [&](const std::vector<std::size_t> &v) {
            if (v.empty()) return;
            const std::size_t keep = rng() % (v.size() + 1);
            c.lost.insert(v.begin() + static_cast<std::ptrdiff_t>(keep), v.end());
        };
        for (const auto &[d, v] : p.entries) prefix(v);
        prefix(p.journal);
        add(c);
    }
    return out;
}

Tree CrashModel::crash_tree(std::size_t k, const CrashChoice &choice) const {
    std::map<std::string, int> names = m_initial_inodes;
    std::set<std::string> dirs = m_initial.dirs;
    std::map<int, std::string> content;
    for (const auto &[path, ino] : m_initial_inodes) content[ino] = m_initial.files.at(path);
    for (std::size_t i = 0; i < k && i < m_ops.size(); ++i) {
        if (choice.lost.count(i)) continue;
        const Op &op = m_ops[i];
        const Annot &a = m_an[i];
        switch (op.kind) {
        case OpKind::open:
            if (a.creates) {
                content[a.ino];
                if (a.entry) names[op.path] = a.ino;
            } else if (a.data) {
                content[a.ino].clear();
            }
            break;
        case OpKind::write: {
            std::string &c = content[a.ino];
            const auto pages_it = choice.pages.find(i);
            const std::int64_t first_page = op.offset / kPage;
            for (std::int64_t at = op.offset; at < op.offset + op.len;) {
                const std::int64_t page = at / kPage;
                const std::int64_t end = std::min(op.offset + op.len, (page + 1) * kPage);
                const std::int64_t bit = page - first_page;
                const bool keep = pages_it == choice.pages.end() || (bit < 64 && ((pages_it->second >> bit) & 1));
                if (keep) {
                    if (static_cast<std::int64_t>(c.size()) < end) c.resize(static_cast<std::size_t>(end), '\0');
                    std::memcpy(c.data() + at, m_data.data() + op.data_offset + (at - op.offset),
                                static_cast<std::size_t>(end - at));
                }
                at = end;
            }
            break;
        }
        case OpKind::trunc:
            content[a.ino].resize(static_cast<std::size_t>(op.len), '\0');
            break;
        case OpKind::falloc:
            if (op.mode == 0 && static_cast<std::int64_t>(content[a.ino].size()) < op.offset + op.len)
                content[a.ino].resize(static_cast<std::size_t>(op.offset + op.len), '\0');
            break;
        case OpKind::rename:
            names.erase(op.path);
            names[op.path2] = a.ino;
            break;
        case OpKind::link:
            names[op.path2] = a.ino;
            break;
        case OpKind::unlink:
            names.erase(op.path);
            break;
        case OpKind::mkdir:
            dirs.insert(op.path);
            break;
        case OpKind::rmdir:
            dirs.erase(op.path);
            break;
        default:
            break;
        }
    }
    auto reachable = [&](const std::string &path) {
        for (std::string d = parent_of(path); d != "."; d = parent_of(d))
            if (!dirs.count(d)) return false;
        return true;
    };
    Tree t;
    for (const auto &d : dirs)
        if (reachable(d)) t.dirs.insert(d);
    for (const auto &[path, ino] : names)
        if (reachable(path)) t.files[path] = content[ino];
    return t;
}

}  // namespace blobfetch::crash
