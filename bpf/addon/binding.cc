// SPDX-License-Identifier: Apache-2.0
// The libbpf N-API binding of @stella/bpf. Thin on purpose: every call maps onto one libbpf call,
// errors become "failed to <verb> <object>: <strerror> (<ERRNO>)", and all policy (value encoding,
// per-CPU splitting, retries, defaults) lives in TypeScript (bpf/src/).

#include <napi.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "off_thread.h"

#if LIBBPF_MAJOR_VERSION < 1 || (LIBBPF_MAJOR_VERSION == 1 && LIBBPF_MINOR_VERSION < 4)
#error "@stella/bpf needs libbpf >= 1.4 (uprobe attach by versioned symbol, uprobe.multi)"
#endif

namespace {

// ------------------------------------------------------------------------------------------------
// libbpf diagnostics: kept per thread so an error can carry the log lines of the failing call
// (verifier output on load failures) instead of libbpf writing them to stderr.

thread_local std::string g_libbpf_log;
bool g_libbpf_log_to_stderr = false;
constexpr size_t kMaxLogBytes = 64 * 1024;

int LibbpfPrint(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG && !g_libbpf_log_to_stderr) return 0;
  char line[2048];
  int n = vsnprintf(line, sizeof(line), fmt, args);
  if (n < 0) return 0;
  if (g_libbpf_log_to_stderr) fputs(line, stderr);
  if (level != LIBBPF_DEBUG && g_libbpf_log.size() < kMaxLogBytes) g_libbpf_log.append(line);
  return 0;
}

// `log`: libbpf's lines for the failing call, captured on the thread that made it.
Napi::Error MakeError(Napi::Env env, const std::string& verb, const std::string& object, int err,
                      const std::string& log) {
  if (err < 0) err = -err;
  if (err == 0) err = EINVAL;
  const char* name = strerrorname_np(err);
  std::string code = name ? name : "E" + std::to_string(err);
  std::string msg = "failed to " + verb + " " + object + ": " + strerror(err) + " (" + code + ")";
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("code", Napi::String::New(env, code));
  e.Set("verb", Napi::String::New(env, verb));
  e.Set("object", Napi::String::New(env, object));
  if (!log.empty()) e.Set("libbpfLog", Napi::String::New(env, log));
  return e;
}

Napi::Error MakeError(Napi::Env env, const std::string& verb, const std::string& object, int err) {
  return MakeError(env, verb, object, err, g_libbpf_log);
}

[[noreturn]] void Fail(Napi::Env env, const std::string& verb, const std::string& object, int err) {
  throw MakeError(env, verb, object, err);
}

std::string ArgString(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || !info[i].IsString()) {
    throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " must be a string");
  }
  return info[i].As<Napi::String>().Utf8Value();
}

Napi::Buffer<uint8_t> ArgBuffer(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || !info[i].IsBuffer()) {
    throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " must be a Buffer");
  }
  return info[i].As<Napi::Buffer<uint8_t>>();
}

uint64_t ArgU64(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || info[i].IsUndefined() || info[i].IsNull()) return 0;
  if (info[i].IsBigInt()) {
    bool lossless = true;
    return info[i].As<Napi::BigInt>().Uint64Value(&lossless);
  }
  return static_cast<uint64_t>(info[i].As<Napi::Number>().Int64Value());
}

bool IsPerCpu(enum bpf_map_type t) {
  return t == BPF_MAP_TYPE_PERCPU_HASH || t == BPF_MAP_TYPE_PERCPU_ARRAY || t == BPF_MAP_TYPE_LRU_PERCPU_HASH ||
         t == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
}

// ------------------------------------------------------------------------------------------------
// Ring buffer consumer: a worker thread polls, frames records into batches, and hands each batch
// to JS through a thread-safe function (TSFN). Graceful stop: flag -> worker drains with
// ring_buffer__consume() -> delivers -> releases the TSFN -> the TSFN finalizer (main thread)
// joins and resolves stop()'s promise. Hard stop (close, env teardown): flag -> abort TSFN -> join.

struct Batch {
  std::vector<uint8_t> bytes;
  uint32_t records;
};

struct RingConsumer {
  ring_buffer* rb = nullptr;
  std::thread thread;
  std::atomic<bool> stopping{false};
  Napi::ThreadSafeFunction tsfn;
  std::vector<uint8_t> cur;
  uint32_t cur_records = 0;
  uint32_t max_records = 8192;
  size_t max_bytes = 1 << 20;
  int poll_ms = 20;
  bool aborted = false;  // worker thread only
  bool finished = false;  // main thread only
  std::vector<Napi::Promise::Deferred> waiters;
  std::string map_name;

  bool Flush() {
    if (cur_records == 0) return true;
    auto* b = new Batch{std::move(cur), cur_records};
    cur = std::vector<uint8_t>();
    cur.reserve(max_bytes + 4096);
    cur_records = 0;
    napi_status st = tsfn.BlockingCall(b, Deliver);
    if (st != napi_ok) {
      delete b;
      return false;
    }
    return true;
  }

  static void Deliver(Napi::Env env, Napi::Function cb, Batch* b) {
    if (env == nullptr || cb.IsEmpty()) {  // aborted: nobody left to deliver to
      delete b;
      return;
    }
    auto buf = Napi::Buffer<uint8_t>::NewOrCopy(env, b->bytes.data(), b->bytes.size(),
                                                 [](Napi::Env, uint8_t*, Batch* owned) { delete owned; }, b);
    uint32_t records = b->records;
    cb.Call({buf, Napi::Number::New(env, records)});
  }

  static int OnRecord(void* ctx, void* data, size_t size) {
    auto* c = static_cast<RingConsumer*>(ctx);
    size_t frame = (4 + size + 7) & ~static_cast<size_t>(7);
    size_t off = c->cur.size();
    c->cur.resize(off + frame);  // zero-fills the padding
    uint32_t len = static_cast<uint32_t>(size);
    memcpy(c->cur.data() + off, &len, 4);  // x86_64 and arm64 are little-endian, as the framing is
    memcpy(c->cur.data() + off + 4, data, size);
    c->cur_records++;
    if (c->cur_records >= c->max_records || c->cur.size() >= c->max_bytes) {
      if (!c->Flush()) {
        c->aborted = true;
        return -ECANCELED;  // stops ring_buffer__consume/poll
      }
    }
    return 0;
  }

  void Run() {
    cur.reserve(max_bytes + 4096);
    int consumed = 0;
    while (!stopping.load(std::memory_order_acquire) && !aborted) {
      // Records are submitted with BPF_RB_NO_WAKEUP, so poll usually times out: the wait is the
      // batching interval. Skip the wait while the ring is busy.
      if (consumed < static_cast<int>(max_records / 2)) ring_buffer__poll(rb, poll_ms);
      if (aborted) break;
      // NO_WAKEUP leaves records behind a timed-out poll (docs/KERNEL.md §9): always consume after it.
      consumed = ring_buffer__consume(rb);
      if (aborted || !Flush()) {
        aborted = true;
        break;
      }
    }
    if (!aborted) {
      ring_buffer__consume(rb);
      if (!aborted) Flush();
    }
    tsfn.Release();
  }
};

// Consumers still running per env, hard-stopped at env teardown so the process can exit.
struct AddonData {
  std::set<std::shared_ptr<RingConsumer>> consumers;
  Napi::FunctionReference link_ctor;
  Napi::FunctionReference consumer_ctor;
  Napi::FunctionReference object_ctor;
};

void HardStop(const std::shared_ptr<RingConsumer>& c) {
  c->stopping.store(true, std::memory_order_release);
  if (c->thread.joinable()) {
    c->tsfn.Abort();
    c->thread.join();
  }
  if (c->rb) {
    ring_buffer__free(c->rb);
    c->rb = nullptr;
  }
}

// ------------------------------------------------------------------------------------------------

class LinkWrap : public Napi::ObjectWrap<LinkWrap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "BpfLink",
                       {InstanceMethod("destroy", &LinkWrap::Destroy), InstanceMethod("fd", &LinkWrap::Fd),
                        InstanceMethod("destroyAsync", &LinkWrap::DestroyAsync)});
  }
  explicit LinkWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<LinkWrap>(info) {
    link_ = static_cast<bpf_link*>(info[0].As<Napi::External<bpf_link>>().Data());
    description_ = info[1].As<Napi::String>().Utf8Value();
  }
  // A link collected without destroy(): release it on a thread of its own, not inside the GC on
  // the main thread (a uprobe release waits a grace period). Nothing waits for that thread.
  ~LinkWrap() override {
    if (!link_) return;
    bpf_link* link = link_;
    std::thread([link] { bpf_link__destroy(link); }).detach();
  }

 private:
  Napi::Value Destroy(const Napi::CallbackInfo& info) {
    if (link_) {
      g_libbpf_log.clear();
      int err = bpf_link__destroy(link_);
      link_ = nullptr;
      if (err) Fail(info.Env(), "detach", description_, err);
    }
    return info.Env().Undefined();
  }
  Napi::Value Fd(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), link_ ? bpf_link__fd(link_) : -1);
  }
  Napi::Value DestroyAsync(const Napi::CallbackInfo& info);
  bpf_link* link_ = nullptr;
  std::string description_;
};

class ConsumerWrap : public Napi::ObjectWrap<ConsumerWrap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "RingBufferConsumer", {InstanceMethod("stop", &ConsumerWrap::Stop)});
  }
  explicit ConsumerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ConsumerWrap>(info) {
    consumer_ = *info[0].As<Napi::External<std::shared_ptr<RingConsumer>>>().Data();
  }

 private:
  Napi::Value Stop(const Napi::CallbackInfo& info) {
    auto deferred = Napi::Promise::Deferred::New(info.Env());
    if (consumer_->finished) {
      deferred.Resolve(info.Env().Undefined());
    } else {
      consumer_->waiters.push_back(deferred);
      consumer_->stopping.store(true, std::memory_order_release);
    }
    return deferred.Promise();
  }
  std::shared_ptr<RingConsumer> consumer_;
};

// ------------------------------------------------------------------------------------------------
// One uprobe attach request, whatever the link: `kPerfEvent` is one perf-event uprobe (one offset,
// relative to `symbol` when named, one cookie); `kMulti` is one uprobe_multi link carrying every
// offset of a file, a cookie each (explicit file offsets only: libbpf 1.4.6 fails with ENOENT when
// given symbol names on a library without .symtab). The arguments, the same for attachUprobe and
// attachUprobeAsync, are checked and described in TypeScript (bpf/src/object.ts):
//   (kind, program, binaryPath, pid, retprobe, symbol|null, offsets: number[], cookies: bigint[], description)

enum class UprobeLinkKind : int32_t { kPerfEvent = 0, kMulti = 1 };

struct UprobeAttach {
  UprobeLinkKind kind = UprobeLinkKind::kPerfEvent;
  std::string program;
  std::string binary;
  int pid = -1;
  bool retprobe = false;
  bool has_symbol = false;
  std::string symbol;
  std::vector<unsigned long> offsets;
  std::vector<__u64> cookies;
  std::string description;

  static UprobeAttach Read(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    UprobeAttach r;
    r.kind = static_cast<UprobeLinkKind>(info[0].As<Napi::Number>().Int32Value());
    r.program = ArgString(info, 1);
    r.binary = ArgString(info, 2);
    r.pid = info[3].As<Napi::Number>().Int32Value();
    r.retprobe = info[4].ToBoolean().Value();
    r.has_symbol = info[5].IsString();
    if (r.has_symbol) r.symbol = info[5].As<Napi::String>().Utf8Value();
    if (!info[6].IsArray() || !info[7].IsArray()) throw Napi::TypeError::New(env, "offsets and cookies must be arrays");
    auto js_offsets = info[6].As<Napi::Array>();
    auto js_cookies = info[7].As<Napi::Array>();
    for (uint32_t i = 0; i < js_offsets.Length(); i++) {
      r.offsets.push_back(static_cast<unsigned long>(js_offsets.Get(i).As<Napi::Number>().Int64Value()));
      Napi::Value c = i < js_cookies.Length() ? js_cookies.Get(i) : env.Undefined();
      bool lossless = true;
      r.cookies.push_back(c.IsBigInt() ? c.As<Napi::BigInt>().Uint64Value(&lossless) : 0);
    }
    r.description = ArgString(info, 8);
    bool one = r.kind == UprobeLinkKind::kPerfEvent && r.offsets.size() == 1;
    bool many = r.kind == UprobeLinkKind::kMulti && !r.offsets.empty() && !r.has_symbol;
    if (!one && !many) Fail(env, "attach", r.description, EINVAL);
    return r;
  }

  // The libbpf call; on any thread. nullptr and `*err` set on failure.
  bpf_link* Attach(bpf_program* prog, int* err) const {
    bpf_link* link;
    errno = 0;
    if (kind == UprobeLinkKind::kMulti) {
      LIBBPF_OPTS(bpf_uprobe_multi_opts, opts, .offsets = offsets.data(), .cookies = cookies.data(),
                  .cnt = offsets.size(), .retprobe = retprobe);
      link = bpf_program__attach_uprobe_multi(prog, pid, binary.c_str(), nullptr, &opts);
    } else {
      LIBBPF_OPTS(bpf_uprobe_opts, opts, .bpf_cookie = cookies[0], .retprobe = retprobe,
                  .func_name = has_symbol ? symbol.c_str() : nullptr);
      link = bpf_program__attach_uprobe_opts(prog, pid, binary.c_str(), offsets[0], &opts);
    }
    *err = link ? 0 : (errno ? errno : EINVAL);
    return link;
  }
};

class ObjectHandle : public Napi::ObjectWrap<ObjectHandle> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "BpfObject",
                       {
                           InstanceMethod("programNames", &ObjectHandle::ProgramNames),
                           InstanceMethod("maps", &ObjectHandle::Maps),
                           InstanceMethod("globals", &ObjectHandle::Globals),
                           InstanceMethod("setGlobalBytes", &ObjectHandle::SetGlobalBytes),
                           InstanceMethod("setAutoload", &ObjectHandle::SetAutoload),
                           InstanceMethod("setMaxEntries", &ObjectHandle::SetMaxEntries),
                           InstanceMethod("reuseMap", &ObjectHandle::ReuseMap),
                           InstanceMethod("mapFd", &ObjectHandle::MapFd),
                           InstanceMethod("load", &ObjectHandle::Load),
                           InstanceMethod("attachUprobe", &ObjectHandle::AttachUprobe),
                           InstanceMethod("attachTracepoint", &ObjectHandle::AttachTracepoint),
                           InstanceMethod("attachRawTracepoint", &ObjectHandle::AttachRawTracepoint),
                           InstanceMethod("attachKprobe", &ObjectHandle::AttachKprobe),
                           InstanceMethod("attachAuto", &ObjectHandle::AttachAuto),
                           InstanceMethod("mapLookup", &ObjectHandle::MapLookup),
                           InstanceMethod("mapUpdate", &ObjectHandle::MapUpdate),
                           InstanceMethod("mapDelete", &ObjectHandle::MapDelete),
                           InstanceMethod("mapLookupAndDelete", &ObjectHandle::MapLookupAndDelete),
                           InstanceMethod("mapKeys", &ObjectHandle::MapKeys),
                           InstanceMethod("consumeRingBuffer", &ObjectHandle::ConsumeRingBuffer),
                           InstanceMethod("close", &ObjectHandle::Close),
                           InstanceMethod("setExpectedAttachType", &ObjectHandle::SetExpectedAttachType),
                           InstanceMethod("attachUprobeAsync", &ObjectHandle::AttachUprobeAsync),
                       });
  }

  // new BpfObject(path, name?)
  explicit ObjectHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ObjectHandle>(info) {
    path_ = ArgString(info, 0);
    std::string name = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
    LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = name.empty() ? nullptr : name.c_str());
    g_libbpf_log.clear();
    obj_ = bpf_object__open_file(path_.c_str(), &opts);
    if (!obj_) Fail(info.Env(), "open", "BPF object " + path_, errno);
  }
  ~ObjectHandle() override { CloseNow(); }

 private:
  bpf_object* Obj(Napi::Env env) {
    if (!obj_ || close_pending_) Fail(env, "use", "BPF object " + path_ + " (closed)", EBADF);
    return obj_;
  }
  bpf_program* Prog(Napi::Env env, const std::string& name) {
    bpf_program* p = bpf_object__find_program_by_name(Obj(env), name.c_str());
    if (!p) Fail(env, "find", "program " + name + " in " + path_, ENOENT);
    return p;
  }
  bpf_map* Map(Napi::Env env, const std::string& name) {
    bpf_map* m = bpf_object__find_map_by_name(Obj(env), name.c_str());
    if (!m) Fail(env, "find", "map " + name + " in " + path_, ENOENT);
    return m;
  }
  // Internal maps (.rodata, .bss, ...) are named by their ELF section, as libbpf finds them.
  std::string MapName(bpf_map* m) {
    if (bpf_map__is_internal(m)) {
      const btf* b = bpf_object__btf(obj_);
      const btf_type* t = b ? btf__type_by_id(b, bpf_map__btf_value_type_id(m)) : nullptr;
      if (t && btf_is_datasec(t)) return btf__name_by_offset(b, t->name_off);
    }
    return bpf_map__name(m);
  }

  Napi::Value ProgramNames(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto arr = Napi::Array::New(env);
    bpf_program* p;
    uint32_t i = 0;
    bpf_object__for_each_program(p, Obj(env)) {
      auto o = Napi::Object::New(env);
      o.Set("name", bpf_program__name(p));
      o.Set("section", bpf_program__section_name(p));
      o.Set("autoload", bpf_program__autoload(p));
      arr.Set(i++, o);
    }
    return arr;
  }

  Napi::Value Maps(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto arr = Napi::Array::New(env);
    bpf_map* m;
    uint32_t i = 0;
    bpf_object__for_each_map(m, Obj(env)) {
      auto o = Napi::Object::New(env);
      o.Set("name", MapName(m));
      o.Set("type", static_cast<int>(bpf_map__type(m)));
      o.Set("keySize", bpf_map__key_size(m));
      o.Set("valueSize", bpf_map__value_size(m));
      o.Set("maxEntries", bpf_map__max_entries(m));
      o.Set("perCpu", IsPerCpu(bpf_map__type(m)));
      o.Set("internal", bpf_map__is_internal(m));
      arr.Set(i++, o);
    }
    return arr;
  }

  // Variables of every datasec (.rodata, .data, .bss, custom .data.*), from the object's BTF.
  Napi::Value Globals(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto arr = Napi::Array::New(env);
    const btf* b = bpf_object__btf(Obj(env));
    if (!b) return arr;
    bpf_map* m;
    uint32_t i = 0;
    bpf_object__for_each_map(m, obj_) {
      if (!bpf_map__is_internal(m)) continue;
      const btf_type* sec = btf__type_by_id(b, bpf_map__btf_value_type_id(m));
      if (!sec || !btf_is_datasec(sec)) continue;
      const char* sec_name = btf__name_by_offset(b, sec->name_off);
      const btf_var_secinfo* vs = btf_var_secinfos(sec);
      for (uint16_t k = 0; k < btf_vlen(sec); k++, vs++) {
        const btf_type* var = btf__type_by_id(b, vs->type);
        if (!var || !btf_is_var(var)) continue;
        auto o = Napi::Object::New(env);
        o.Set("name", btf__name_by_offset(b, var->name_off));
        o.Set("section", sec_name);
        o.Set("offset", vs->offset);
        o.Set("size", vs->size);
        arr.Set(i++, o);
      }
    }
    return arr;
  }

  // setGlobalBytes(section, offset, bytes, name): TS resolved the variable via globals().
  Napi::Value SetGlobalBytes(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string section = ArgString(info, 0);
    uint32_t offset = info[1].As<Napi::Number>().Uint32Value();
    auto bytes = ArgBuffer(info, 2);
    std::string name = ArgString(info, 3);
    bpf_map* m = Map(env, section);
    size_t size = 0;
    auto* data = static_cast<uint8_t*>(bpf_map__initial_value(m, &size));
    if (!data) Fail(env, "set", "global " + name + " in " + section, ENOENT);
    if (loaded_) Fail(env, "set", "global " + name + " (object already loaded)", EBUSY);
    if (offset + bytes.Length() > size) Fail(env, "set", "global " + name + " in " + section, ERANGE);
    memcpy(data + offset, bytes.Data(), bytes.Length());
    return env.Undefined();
  }

  Napi::Value SetAutoload(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string name = ArgString(info, 0);
    int err = bpf_program__set_autoload(Prog(env, name), info[1].ToBoolean().Value());
    if (err) Fail(env, "set autoload of", "program " + name, err);
    return env.Undefined();
  }

  Napi::Value SetMaxEntries(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string name = ArgString(info, 0);
    int err = bpf_map__set_max_entries(Map(env, name), info[1].As<Napi::Number>().Uint32Value());
    if (err) Fail(env, "resize", "map " + name, err);
    return env.Undefined();
  }

  // reuseMap(map, fd): before load, the map becomes the kernel map behind `fd` (libbpf dups the fd,
  // so the caller keeps its own); libbpf checks type, key/value size and capacity at load.
  Napi::Value ReuseMap(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string name = ArgString(info, 0);
    int err = bpf_map__reuse_fd(Map(env, name), info[1].As<Napi::Number>().Int32Value());
    if (err) Fail(env, "reuse", "map " + name, err);
    return env.Undefined();
  }

  // mapFd(map) -> the loaded map's fd, owned by this object (valid until close).
  Napi::Value MapFd(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string name = ArgString(info, 0);
    int fd = bpf_map__fd(Map(env, name));
    if (fd < 0) Fail(env, "get the fd of", "map " + name + " (not loaded)", fd);
    return Napi::Number::New(env, fd);
  }

  Napi::Value Load(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    g_libbpf_log.clear();
    int err = bpf_object__load(Obj(env));
    if (err) Fail(env, "load", "BPF object " + path_, err);
    loaded_ = true;
    return env.Undefined();
  }

  Napi::Value NewLink(Napi::Env env, bpf_link* link, const std::string& description) {
    auto* data = env.GetInstanceData<AddonData>();
    return data->link_ctor.New({Napi::External<bpf_link>::New(env, link), Napi::String::New(env, description)});
  }

  // attachUprobe(<the UprobeAttach arguments>): the same request as attachUprobeAsync, made on the
  // calling thread (the dlopen uretprobe and doctor's trial attach: one link, quickly made).
  Napi::Value AttachUprobe(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    UprobeAttach request = UprobeAttach::Read(info);
    bpf_program* prog = Prog(env, request.program);
    g_libbpf_log.clear();
    int err = 0;
    bpf_link* link = request.Attach(prog, &err);
    if (!link) Fail(env, "attach", request.description, err);
    return NewLink(env, link, request.description);
  }

  // attachTracepoint(program, category, name, cookie)
  Napi::Value AttachTracepoint(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string prog = ArgString(info, 0);
    std::string category = ArgString(info, 1);
    std::string name = ArgString(info, 2);
    LIBBPF_OPTS(bpf_tracepoint_opts, opts, .bpf_cookie = ArgU64(info, 3));
    std::string what = "tracepoint " + category + "/" + name;
    g_libbpf_log.clear();
    bpf_link* link = bpf_program__attach_tracepoint_opts(Prog(env, prog), category.c_str(), name.c_str(), &opts);
    if (!link) Fail(env, "attach", what, errno);
    return NewLink(env, link, what);
  }

  Napi::Value AttachRawTracepoint(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string prog = ArgString(info, 0);
    std::string name = ArgString(info, 1);
    std::string what = "raw tracepoint " + name;
    g_libbpf_log.clear();
    bpf_link* link = bpf_program__attach_raw_tracepoint(Prog(env, prog), name.c_str());
    if (!link) Fail(env, "attach", what, errno);
    return NewLink(env, link, what);
  }

  // attachKprobe(program, symbol, retprobe, cookie)
  Napi::Value AttachKprobe(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string prog = ArgString(info, 0);
    std::string symbol = ArgString(info, 1);
    bool retprobe = info[2].ToBoolean().Value();
    LIBBPF_OPTS(bpf_kprobe_opts, opts, .bpf_cookie = ArgU64(info, 3), .retprobe = retprobe);
    std::string what = std::string(retprobe ? "kretprobe " : "kprobe ") + symbol;
    g_libbpf_log.clear();
    bpf_link* link = bpf_program__attach_kprobe_opts(Prog(env, prog), symbol.c_str(), &opts);
    if (!link) Fail(env, "attach", what, errno);
    return NewLink(env, link, what);
  }

  Napi::Value AttachAuto(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string prog = ArgString(info, 0);
    bpf_program* p = Prog(env, prog);
    std::string what = "program " + prog + " (" + bpf_program__section_name(p) + ")";
    g_libbpf_log.clear();
    errno = 0;
    bpf_link* link = bpf_program__attach(p);
    if (!link) Fail(env, "attach", what, errno ? errno : EOPNOTSUPP);
    return NewLink(env, link, what);
  }

  size_t ValueBytes(bpf_map* m) {
    size_t vs = bpf_map__value_size(m);
    if (!IsPerCpu(bpf_map__type(m))) return vs;
    // Per-CPU values come one per possible CPU, each rounded up to 8 bytes (kernel bpf_map_value_size()).
    return ((vs + 7) & ~static_cast<size_t>(7)) * static_cast<size_t>(libbpf_num_possible_cpus());
  }

  // mapLookup(map, key) -> Buffer | null (per-CPU maps: all CPUs' values, each padded to 8)
  Napi::Value MapLookup(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string name = ArgString(info, 0);
    auto key = ArgBuffer(info, 1);
    bpf_map* m = Map(env, name);
    auto value = Napi::Buffer<uint8_t>::New(env, ValueBytes(m));
    int err = bpf_map__lookup_elem(m, key.Data(), key.Length(), value.Data(), value.Length(), 0);
    if (err == -ENOENT) return env.Null();
    if (err) Fail(env, "look up", "map " + name, err);
    return value;
  }

  // mapUpdate(map, key, value, flags)
  Napi::Value MapUpdate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string name = ArgString(info, 0);
    auto key = ArgBuffer(info, 1);
    auto value = ArgBuffer(info, 2);
    uint64_t flags = ArgU64(info, 3);
    int err = bpf_map__update_elem(Map(env, name), key.Data(), key.Length(), value.Data(), value.Length(), flags);
    if (err) Fail(env, "update", "map " + name, err);
    return env.Undefined();
  }

  Napi::Value MapDelete(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string name = ArgString(info, 0);
    auto key = ArgBuffer(info, 1);
    int err = bpf_map__delete_elem(Map(env, name), key.Data(), key.Length(), 0);
    if (err) Fail(env, "delete from", "map " + name, err);
    return env.Undefined();
  }

  // mapLookupAndDelete(map, key) -> Buffer | null: one syscall, so no update lands between a read
  // and a delete (per-CPU hashes since Linux 5.14, commit 3e87f192b405).
  Napi::Value MapLookupAndDelete(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string name = ArgString(info, 0);
    auto key = ArgBuffer(info, 1);
    bpf_map* m = Map(env, name);
    auto value = Napi::Buffer<uint8_t>::New(env, ValueBytes(m));
    int err = bpf_map__lookup_and_delete_elem(m, key.Data(), key.Length(), value.Data(), value.Length(), 0);
    if (err == -ENOENT) return env.Null();
    if (err) Fail(env, "look up and delete", "map " + name, err);
    return value;
  }

  Napi::Value MapKeys(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string name = ArgString(info, 0);
    bpf_map* m = Map(env, name);
    size_t ksz = bpf_map__key_size(m);
    std::vector<uint8_t> prev(ksz), next(ksz);
    auto arr = Napi::Array::New(env);
    uint32_t i = 0;
    const void* cur = nullptr;
    for (;;) {
      int err = bpf_map__get_next_key(m, cur, next.data(), ksz);
      if (err == -ENOENT) break;
      if (err) Fail(env, "iterate", "map " + name, err);
      arr.Set(i++, Napi::Buffer<uint8_t>::Copy(env, next.data(), ksz));
      prev.swap(next);
      cur = prev.data();
    }
    return arr;
  }

  // consumeRingBuffer(map, onBatch, pollTimeoutMs, maxBatchRecords, maxBatchBytes)
  Napi::Value ConsumeRingBuffer(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string name = ArgString(info, 0);
    if (!info[1].IsFunction()) throw Napi::TypeError::New(env, "onBatch must be a function");
    bpf_map* m = Map(env, name);
    if (!loaded_) Fail(env, "consume", "ring buffer " + name + " (object not loaded)", EINVAL);
    auto c = std::make_shared<RingConsumer>();
    c->map_name = name;
    if (info[2].IsNumber()) c->poll_ms = info[2].As<Napi::Number>().Int32Value();
    if (info[3].IsNumber()) c->max_records = info[3].As<Napi::Number>().Uint32Value();
    if (info[4].IsNumber()) c->max_bytes = info[4].As<Napi::Number>().Uint32Value();
    g_libbpf_log.clear();
    c->rb = ring_buffer__new(bpf_map__fd(m), RingConsumer::OnRecord, c.get(), nullptr);
    if (!c->rb) Fail(env, "open", "ring buffer " + name, errno);

    auto* data = env.GetInstanceData<AddonData>();
    auto* ctx = new std::shared_ptr<RingConsumer>(c);
    // Queue of 4 batches: a slow JS side makes the worker wait, the ring fill and the kernel count
    // drops, instead of memory growing without bound.
    c->tsfn = Napi::ThreadSafeFunction::New(
        env, info[1].As<Napi::Function>(), "stella-ringbuf-" + name, 4, 1, ctx,
        [](Napi::Env env, void*, std::shared_ptr<RingConsumer>* owned) {
          auto& c = *owned;
          if (c->thread.joinable()) c->thread.join();
          if (c->rb) {
            ring_buffer__free(c->rb);
            c->rb = nullptr;
          }
          c->finished = true;
          for (auto& d : c->waiters) d.Resolve(env.Undefined());
          c->waiters.clear();
          if (auto* data = env.GetInstanceData<AddonData>()) data->consumers.erase(c);
          delete owned;
        },
        static_cast<void*>(nullptr));
    data->consumers.insert(c);
    consumers_.push_back(c);
    RingConsumer* raw = c.get();
    c->thread = std::thread([raw] { raw->Run(); });
    auto* holder = new std::shared_ptr<RingConsumer>(c);
    auto ext = Napi::External<std::shared_ptr<RingConsumer>>::New(
        env, holder, [](Napi::Env, std::shared_ptr<RingConsumer>* p) { delete p; });
    return data->consumer_ctor.New({ext});
  }

  void CloseNow() {
    for (auto& w : consumers_) {
      if (auto c = w.lock()) HardStop(c);
    }
    consumers_.clear();
    // A worker thread is still attaching one of our programs: free the object when it is done.
    if (jobs_in_flight_ > 0) {
      close_pending_ = true;
      return;
    }
    if (obj_) {
      bpf_object__close(obj_);
      obj_ = nullptr;
    }
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    CloseNow();
    return info.Env().Undefined();
  }

  // Attaching off the main thread (off_thread.h). The object must outlive the worker's use of its
  // bpf_program: the JS wrapper is pinned (Ref) and close() defers the free until the last job ends.
  void BeginJob() {
    jobs_in_flight_++;
    Ref();
  }
  void EndJob() {
    if (--jobs_in_flight_ == 0 && close_pending_) {
      close_pending_ = false;
      CloseNow();
    }
    Unref();
  }
  Napi::Value SetExpectedAttachType(const Napi::CallbackInfo& info);
  Napi::Value AttachUprobeAsync(const Napi::CallbackInfo& info);
  Napi::Value SettleAttach(Napi::Env env, bpf_link* link, int err, const std::string& log, const std::string& what);

  std::string path_;
  bpf_object* obj_ = nullptr;
  bool loaded_ = false;
  std::vector<std::weak_ptr<RingConsumer>> consumers_;
  int jobs_in_flight_ = 0;
  bool close_pending_ = false;
};

// ------------------------------------------------------------------------------------------------
// Links made and released on worker threads (issue 11: a release waits a grace period; making a
// uprobe by symbol parses the ELF file). Each call keeps its strings alive in its closure.

struct AttachResult {
  bpf_link* link = nullptr;
  int err = 0;
  std::string log;
};

Napi::Value LinkWrap::DestroyAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bpf_link* link = link_;
  link_ = nullptr;
  if (!link) {
    auto done = Napi::Promise::Deferred::New(env);
    done.Resolve(env.Undefined());
    return done.Promise();
  }
  auto result = std::make_shared<AttachResult>();
  std::string what = description_;
  return stella::RunOffThread(
      env, "stella-link-destroy",
      [link, result] {
        g_libbpf_log.clear();
        result->err = bpf_link__destroy(link);
        result->log = g_libbpf_log;
      },
      [result, what](Napi::Env env) -> Napi::Value {
        if (result->err) throw MakeError(env, "detach", what, result->err, result->log);
        return env.Undefined();
      });
}

Napi::Value ObjectHandle::SettleAttach(Napi::Env env, bpf_link* link, int err, const std::string& log,
                                       const std::string& what) {
  EndJob();
  if (!link) throw MakeError(env, "attach", what, err, log);
  return NewLink(env, link, what);
}

// setExpectedAttachType(program, attachType): before load. BPF_TRACE_UPROBE_MULTI makes a uprobe
// program attachable through uprobe_multi links (and, in the kernel, no longer through perf events).
Napi::Value ObjectHandle::SetExpectedAttachType(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = ArgString(info, 0);
  auto type = static_cast<enum bpf_attach_type>(info[1].As<Napi::Number>().Int32Value());
  if (loaded_) Fail(env, "set attach type of", "program " + name + " (object already loaded)", EBUSY);
  int err = bpf_program__set_expected_attach_type(Prog(env, name), type);
  if (err) Fail(env, "set attach type of", "program " + name, err);
  return env.Undefined();
}

// attachUprobeAsync(<the UprobeAttach arguments>) -> Promise<link>: the libbpf call (an ELF lookup
// by symbol, perf_event_open or the uprobe_multi link) on a worker thread.
Napi::Value ObjectHandle::AttachUprobeAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto request = std::make_shared<UprobeAttach>(UprobeAttach::Read(info));
  bpf_program* prog = Prog(env, request->program);
  auto result = std::make_shared<AttachResult>();
  BeginJob();
  return stella::RunOffThread(
      env, request->kind == UprobeLinkKind::kMulti ? "stella-attach-uprobe-multi" : "stella-attach-uprobe",
      [prog, request, result] {
        g_libbpf_log.clear();
        result->link = request->Attach(prog, &result->err);
        result->log = g_libbpf_log;
      },
      [this, request, result](Napi::Env env) {
        return SettleAttach(env, result->link, result->err, result->log, request->description);
      });
}

Napi::Value NumPossibleCpus(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), libbpf_num_possible_cpus());
}

Napi::Value LibbpfVersion(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), libbpf_version_string());
}

// probeMapType(type): whether the kernel can create a map of this type (creates and frees one).
Napi::Value ProbeMapType(const Napi::CallbackInfo& info) {
  int ret = libbpf_probe_bpf_map_type(static_cast<enum bpf_map_type>(info[0].As<Napi::Number>().Int32Value()), nullptr);
  return Napi::Boolean::New(info.Env(), ret == 1);
}

// releaseFreedMemory(): hands the free pages of every malloc arena back to the kernel (glibc's
// malloc_trim), off the main thread; resolves whether any were released. Why: libbpf's loads and
// the placement worker allocate on other threads, and glibc keeps each thread's arena resident
// after its memory is freed: ~12-15 MB of an idle agent's RSS here. Elsewhere (musl) a no-op.
Napi::Value ReleaseFreedMemory(const Napi::CallbackInfo& info) {
  auto released = std::make_shared<bool>(false);
  return stella::RunOffThread(
      info.Env(), "stella-malloc-trim",
      [released] {
#ifdef __GLIBC__
        *released = malloc_trim(0) == 1;
#endif
      },
      [released](Napi::Env env) -> Napi::Value { return Napi::Boolean::New(env, *released); });
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  const char* dbg = getenv("STELLA_LIBBPF_DEBUG");
  g_libbpf_log_to_stderr = dbg && *dbg && strcmp(dbg, "0") != 0;
  libbpf_set_print(LibbpfPrint);

  auto* data = new AddonData();
  env.SetInstanceData<AddonData>(data);
  data->link_ctor = Napi::Persistent(LinkWrap::Init(env));
  data->consumer_ctor = Napi::Persistent(ConsumerWrap::Init(env));
  Napi::Function object_ctor = ObjectHandle::Init(env);
  data->object_ctor = Napi::Persistent(object_ctor);
  // At env teardown (process exit, worker end) running consumers are hard-stopped so their
  // threads never outlive the env.
  env.AddCleanupHook([data] {
    auto live = data->consumers;
    for (auto& c : live) HardStop(c);
  });

  exports.Set("BpfObject", object_ctor);
  exports.Set("numPossibleCpus", Napi::Function::New(env, NumPossibleCpus));
  exports.Set("libbpfVersion", Napi::Function::New(env, LibbpfVersion));
  exports.Set("probeMapType", Napi::Function::New(env, ProbeMapType));
  exports.Set("releaseFreedMemory", Napi::Function::New(env, ReleaseFreedMemory));
  return exports;
}

}  // namespace

NODE_API_MODULE(stella_bpf, Init)
