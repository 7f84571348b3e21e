// SPDX-License-Identifier: Apache-2.0
// Runs one blocking libbpf call on its own thread and settles a promise on the main thread.
// Why not Napi::AsyncWorker: it borrows libuv's pool (4 threads by default), and a uprobe release
// holds its thread for a whole RCU-tasks-trace grace period (~50 ms on 6.18): 85 releases would
// starve the agent's file and DNS work for a second. Why one thread per call: concurrent releases
// wait on the same grace period, so N parallel threads finish in about one period, not N.
#ifndef STELLA_BPF_OFF_THREAD_H
#define STELLA_BPF_OFF_THREAD_H

#include <napi.h>

#include <functional>
#include <thread>
#include <utility>

namespace stella {

struct OffThreadJob {
  std::function<void()> work;                        // the job's own thread
  std::function<Napi::Value(Napi::Env)> settle;      // main thread; a thrown Napi::Error rejects
  Napi::Promise::Deferred deferred;
  Napi::ThreadSafeFunction done;
  std::thread thread;

  explicit OffThreadJob(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}
};

// The thread-safe function is never called: releasing it from the worker is the completion signal,
// and its finalizer (main thread, or env teardown) joins the thread and settles the promise. While
// the job runs the TSFN keeps the event loop alive, so a process waits for its detaches to end.
inline Napi::Promise RunOffThread(Napi::Env env, const char* name, std::function<void()> work,
                                  std::function<Napi::Value(Napi::Env)> settle) {
  auto* job = new OffThreadJob(env);
  job->work = std::move(work);
  job->settle = std::move(settle);
  Napi::Promise promise = job->deferred.Promise();
  job->done = Napi::ThreadSafeFunction::New(
      env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}), name, 0, 1, job,
      [](Napi::Env env, void*, OffThreadJob* job) {
        if (job->thread.joinable()) job->thread.join();
        {
          Napi::HandleScope scope(env);
          try {
            job->deferred.Resolve(job->settle(env));
          } catch (const Napi::Error& e) {
            job->deferred.Reject(e.Value());
          }
        }
        delete job;
      },
      static_cast<void*>(nullptr));
  job->thread = std::thread([job] {
    job->work();
    job->done.Release();
  });
  return promise;
}

}  // namespace stella

#endif  // STELLA_BPF_OFF_THREAD_H
