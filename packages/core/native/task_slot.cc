// The continuation slot: V8's "continuation preserved embedder data", one value per
// context that every await of a native promise carries to its continuation (the value when
// the reaction was made is the value while it runs). Node 24 keeps AsyncContextFrame there;
// Node 20 and 22 leave it unused, so @loopkit/core keeps the running task in it instead of
// in an AsyncLocalStorage, whose promise hooks cost every promise of the process.
//
// A V8-API addon (not N-API, which has no access to the slot): built per Node ABI at install.
#include <node.h>
#include <v8.h>
#include <v8-version.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace {

using v8::FunctionCallbackInfo;
using v8::Isolate;
using v8::Local;
using v8::Value;

// V8 11 (Node 20) keeps the slot on the Context; V8 12 (Node 22) moved it to the Isolate.
#if V8_MAJOR_VERSION >= 12
inline Local<Value> ReadSlot(Isolate* isolate) { return isolate->GetContinuationPreservedEmbedderData(); }
inline void WriteSlot(Isolate* isolate, Local<Value> value) { isolate->SetContinuationPreservedEmbedderData(value); }
#else
inline Local<Value> ReadSlot(Isolate* isolate) {
  return isolate->GetCurrentContext()->GetContinuationPreservedEmbedderData();
}
inline void WriteSlot(Isolate* isolate, Local<Value> value) {
  isolate->GetCurrentContext()->SetContinuationPreservedEmbedderData(value);
}
#endif

// get(): the slot's value (undefined when empty).
void Get(const FunctionCallbackInfo<Value>& info) { info.GetReturnValue().Set(ReadSlot(info.GetIsolate())); }

// set(value): the slot holds value; returns what it held, so a caller restores it in one call less.
void Set(const FunctionCallbackInfo<Value>& info) {
  Isolate* isolate = info.GetIsolate();
  info.GetReturnValue().Set(ReadSlot(isolate));
  WriteSlot(isolate, info[0]);
}

// isAnonymousBuiltin(fn): whether fn is a function of the engine's own with no name and no
// script, as the resolving functions are that `await` (and Promise.resolve) hand a thenable's
// then(). Core settles such a caller at once where a done Future would otherwise pay a
// promise and a microtask to call it; Function.prototype.toString made a string per check.
// A bound function has no script either, but its name ("bound f") is never empty.
void IsAnonymousBuiltin(const FunctionCallbackInfo<Value>& info) {
  bool builtin = false;
  Local<Value> value = info[0];
  if (value->IsFunction()) {
    Local<v8::Function> fn = value.As<v8::Function>();
    if (fn->ScriptId() == v8::UnboundScript::kNoScriptId) {
      Local<Value> name = fn->GetName();
      builtin = name->IsString() && name.As<v8::String>()->Length() == 0;
    }
  }
  info.GetReturnValue().Set(builtin);
}

// newPromise(): a pending native promise with no resolving functions. A promise made with
// `new Promise(executor)` comes with its resolve and reject functions and the context they
// share (112 bytes beside its 48); a waiting call that keeps only the promise settles it
// with resolvePromise instead.
void NewPromise(const FunctionCallbackInfo<Value>& info) {
  Local<v8::Context> context = info.GetIsolate()->GetCurrentContext();
  Local<v8::Promise::Resolver> resolver;
  if (v8::Promise::Resolver::New(context).ToLocal(&resolver)) info.GetReturnValue().Set(resolver->GetPromise());
}

// resolvePromise(promise, value): resolve a promise made by newPromise with value, as its
// resolve function would (a thenable is followed; a settled promise is left as it is).
void ResolvePromise(const FunctionCallbackInfo<Value>& info) {
  Isolate* isolate = info.GetIsolate();
  if (!info[0]->IsPromise()) {
    isolate->ThrowException(v8::Exception::TypeError(
        v8::String::NewFromUtf8Literal(isolate, "resolvePromise: the first argument must be a promise")));
    return;
  }
  // A native promise is its own resolver (V8's Promise::Resolver is the JSPromise).
  Local<v8::Promise::Resolver> resolver = info[0].As<v8::Promise::Resolver>();
  // Nothing only when an exception is pending: it propagates to the caller as it is.
  if (resolver->Resolve(isolate->GetCurrentContext(), info[1]).IsNothing()) return;
}

#if defined(__GLIBC__)
// A hint is waiting for the next full collection to end (per isolate: a worker has its own).
thread_local bool trim_after_full_collection = false;
thread_local bool trim_callback_added = false;

// After the full collection a hint asked for, glibc's free pages go back to the system.
// @loopkit/uv raises malloc's trim threshold so that a busy loop keeps the memory it frees
// (keepFreedMemory), and the threshold holds for every thread's arena: V8's helper threads
// (marking, compiling) leave ~1 KB per connection of a burst free but resident on Node 24.
// Once per hint, never on a steady stream of collections.
void TrimAfterFullCollection(Isolate*, v8::GCType, v8::GCCallbackFlags, void*) {
  if (!trim_after_full_collection) return;
  trim_after_full_collection = false;
  malloc_trim(0);
}
#endif

// moderateMemoryPressure(): tell V8 that memory is wanted back now, as its memory reducer
// would once it judged the program idle: V8 starts an incremental full collection that
// reduces memory (it compacts, and gives back the young generation a burst grew), unless
// one is already under way; with glibc, the C heap's free pages follow when a full
// collection ends. Returns at once; the collection runs in steps and tasks.
void ModerateMemoryPressure(const FunctionCallbackInfo<Value>& info) {
  Isolate* isolate = info.GetIsolate();
#if defined(__GLIBC__)
  if (!trim_callback_added) {
    isolate->AddGCEpilogueCallback(TrimAfterFullCollection, nullptr, v8::kGCTypeMarkSweepCompact);
    trim_callback_added = true;
  }
  trim_after_full_collection = true;
#endif
  isolate->MemoryPressureNotification(v8::MemoryPressureLevel::kModerate);
}

}  // namespace

// Context-aware (it keeps no state), so worker threads load it too.
NODE_MODULE_INIT(/* exports, module, context */) {
  NODE_SET_METHOD(exports, "get", Get);
  NODE_SET_METHOD(exports, "set", Set);
  NODE_SET_METHOD(exports, "isAnonymousBuiltin", IsAnonymousBuiltin);
  NODE_SET_METHOD(exports, "newPromise", NewPromise);
  NODE_SET_METHOD(exports, "resolvePromise", ResolvePromise);
  NODE_SET_METHOD(exports, "moderateMemoryPressure", ModerateMemoryPressure);
}
