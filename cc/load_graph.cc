// load_graph: runs a cadl_graph export from C++ TensorFlow: a frozen GraphDef or a SavedModel.
//
// Loads a GraphDef (binary, else text) or, when --graph names a SavedModel folder, its `serve`
// meta graph through LoadSavedModel (--signature=KEY takes the input and output from one of
// its signatures instead of --input/--output); reads MNIST images from an IDX file (and labels if
// given), feeds them to the input node in batches, fetches the output node, and prints:
//   - accuracy, for a 10-wide output with labels;
//   - mean reconstruction cost (mean over images of the mean squared pixel difference, the
//     lecture's autoencoder cost), for an output as wide as the input;
//   - the first output rows.
// --dump writes every output value as little-endian float32, for comparison with Python.
// --inter_op=auto|caller|pool: where ops run (see Run; auto times both and keeps the faster).
// Every failure prints one line on stderr starting with "error:" and exits non-zero.
// A graph is a program: before anything runs, ops that reach outside the graph (files,
// printing, Python, anything TensorFlow marks stateful but random numbers, asserts, variables
// and control flow) are refused, naming them, unless --trust_graph is given. The rule and its
// lists are cadl_graph/untrusted.py's (tests/export/test_untrusted.py holds them equal). In a
// SavedModel, its Saver's SaveV2/RestoreV2/MergeV2Checkpoints (those its saver_def's restore op
// or save tensor depend on) are allowed, since loading restores variables with them; the init
// ops and the output may not depend on them.
//
//   load_graph --graph=cc.pb --images=t10k-images-idx3-ubyte --labels=t10k-labels-idx1-ubyte
//   load_graph --graph=cc_saved_model --signature=serving_default --images=...

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "tensorflow/cc/saved_model/loader.h"
#include "tensorflow/core/framework/graph.pb.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_def.pb.h"
#include "tensorflow/core/framework/types.h"
#include "tensorflow/core/framework/tensor.h"
#include "tensorflow/core/platform/denormal.h"
#include "tensorflow/core/platform/env.h"
#include "tensorflow/core/protobuf/config.pb.h"
#include "tensorflow/core/protobuf/meta_graph.pb.h"
#include "tensorflow/core/protobuf/saved_model.pb.h"
#include "tensorflow/core/public/session.h"
#include "tensorflow/core/public/version.h"

namespace {

struct Failure {
  std::string message;
};

[[noreturn]] void Fail(const std::string& message) { throw Failure{message}; }

struct Options {
  std::string graph, images, labels, input = "X", output = "Y", dump, signature;
  std::string inter_op = "auto";
  long batch = 1000, limit = -1, rows = 3;
  bool trust_graph = false;
};

long ParseCount(const std::string& flag, const std::string& value) {
  char* end = nullptr;
  long n = std::strtol(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || n < 0) Fail(flag + " takes a whole number, got '" + value + "'");
  return n;
}

Options ParseFlags(int argc, char** argv) {
  Options o;
  std::map<std::string, std::string*> strings = {
      {"--graph", &o.graph},   {"--images", &o.images}, {"--labels", &o.labels},
      {"--input", &o.input},   {"--output", &o.output}, {"--dump", &o.dump},
      {"--signature", &o.signature}, {"--inter_op", &o.inter_op}};
  std::map<std::string, long*> counts = {{"--batch", &o.batch}, {"--limit", &o.limit}, {"--rows", &o.rows}};
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--trust_graph") {
      o.trust_graph = true;
      continue;
    }
    size_t eq = arg.find('=');
    std::string name = arg.substr(0, eq), value = eq == std::string::npos ? "" : arg.substr(eq + 1);
    if (eq == std::string::npos) Fail("unexpected argument '" + arg + "'; flags are --name=value (see the header of cc/load_graph.cc)");
    if (strings.count(name)) {
      *strings[name] = value;
    } else if (counts.count(name)) {
      *counts[name] = ParseCount(name, value);
    } else {
      Fail("unknown flag " + name +
           "; known: --graph --images --labels --input --output --signature --batch --limit --rows --dump "
           "--inter_op --trust_graph");
    }
  }
  if (o.graph.empty() || o.images.empty()) Fail("--graph and --images are required");
  if (o.batch < 1) Fail("--batch must be at least 1");
  if (o.inter_op != "auto" && o.inter_op != "caller" && o.inter_op != "pool")
    Fail("--inter_op takes auto, caller or pool, got '" + o.inter_op + "'");
  return o;
}

// A device or a pipe (/dev/zero, a FIFO) would be read for ever: only regular files are read.
void RequireRegularFile(const std::string& path, const std::string& what) {
  std::error_code error;
  auto status = std::filesystem::status(path, error);
  if (!std::filesystem::exists(status)) Fail(what + " file " + path + " does not exist");
  if (!std::filesystem::is_regular_file(status))
    Fail(what + " file " + path + " is not a regular file (a device, pipe or folder); give a file");
}

std::string ReadFile(const std::string& path, const std::string& what) {
  RequireRegularFile(path, what);
  std::ifstream in(path, std::ios::binary);
  if (!in) Fail(what + " file " + path + " cannot be opened");
  std::ostringstream data;
  data << in.rdbuf();
  return data.str();
}

uint32_t BigEndian(const std::string& data, size_t offset) {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data() + offset);
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// An IDX file's payload after checking magic and sizes; dims receives the dimensions.
std::string ReadIdx(const std::string& path, uint32_t magic, std::vector<uint32_t>* dims) {
  std::string data = ReadFile(path, magic == 2051 ? "image" : "label");
  if (data.size() >= 2 && static_cast<unsigned char>(data[0]) == 0x1f && static_cast<unsigned char>(data[1]) == 0x8b)
    Fail(path + " is gzip-compressed; decompress it first (gunzip -k " + path + ")");
  size_t ndim = magic == 2051 ? 3 : 1, header = 4 + 4 * ndim;
  if (data.size() < 4) Fail(path + ": " + std::to_string(data.size()) + " bytes is too short for an IDX header");
  if (BigEndian(data, 0) != magic)
    Fail(path + ": magic number " + std::to_string(BigEndian(data, 0)) + ", expected " + std::to_string(magic) +
         (magic == 2051 ? " (images)" : " (labels)"));
  if (data.size() < header) Fail(path + ": " + std::to_string(data.size()) + " bytes is too short for an IDX header");
  // The product of the dimensions is checked as it is formed: a corrupt header could otherwise
  // wrap past 2^64 and pass the size check below, then index far outside the data.
  uint64_t count = 1;
  std::string shape;
  for (size_t i = 0; i < ndim; ++i) {
    dims->push_back(BigEndian(data, 4 + 4 * i));
    shape += (i ? "x" : "") + std::to_string(dims->back());
    if (__builtin_mul_overflow(count, uint64_t{dims->back()}, &count) || count > data.size())
      Fail(path + ": header says shape " + shape + (i + 1 < ndim ? "x..." : "") + ", more than the file's " +
           std::to_string(data.size()) + " bytes can hold; the file is truncated or corrupt");
  }
  if (data.size() != header + count)
    Fail(path + ": header promises " + std::to_string(header + count) + " bytes, file has " +
         std::to_string(data.size()) + "; the file is truncated or padded");
  return data.substr(header);
}

// The process's peak resident memory (VmHWM), or 0 where /proc is not there.
double PeakMegabytes() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::strtod(line.c_str() + 6, nullptr) / 1024.0;
  return 0;
}

// A SavedModel folder's graph file: saved_model.pb, or saved_model.pbtxt (text) where there is no .pb, as
// LoadSavedModel reads them; "" when `path` is not a SavedModel folder.
std::string SavedModelFile(const std::string& path) {
  std::error_code error;
  if (!std::filesystem::is_directory(path, error)) return "";
  for (const char* name : {"saved_model.pb", "saved_model.pbtxt"}) {
    auto file = std::filesystem::path(path) / name;
    if (std::filesystem::is_regular_file(file, error)) return file.string();
  }
  return "";
}

// The SavedModel's meta graph tagged "serve" (read only: nothing is loaded or run).
tensorflow::MetaGraphDef ReadServeMetaGraph(const std::string& dir) {
  std::string pb = SavedModelFile(dir);
  tensorflow::SavedModel saved;
  auto status = pb.size() > 6 && pb.substr(pb.size() - 6) == ".pbtxt"
                    ? tensorflow::ReadTextProto(tensorflow::Env::Default(), pb, &saved)
                    : tensorflow::ReadBinaryProto(tensorflow::Env::Default(), pb, &saved);
  if (!status.ok()) Fail(pb + " is not a readable SavedModel: " + std::string(status.message()));
  std::string tag_sets;
  for (const auto& meta : saved.meta_graphs()) {
    tag_sets += " [";
    for (const auto& tag : meta.meta_info_def().tags()) {
      if (tag == "serve") return meta;
      tag_sets += " " + tag;
    }
    tag_sets += " ]";
  }
  Fail("SavedModel " + dir + " has no meta graph tagged 'serve'; its tag sets:" + (tag_sets.empty() ? " none" : tag_sets));
}

void CheckVersions(const tensorflow::GraphDef& graph_def, const std::string& path) {
  const auto& v = graph_def.versions();
  if (v.min_consumer() > TF_GRAPH_DEF_VERSION)
    Fail(path + " needs GraphDef version " + std::to_string(v.min_consumer()) + ", this TensorFlow has " +
         std::to_string(TF_GRAPH_DEF_VERSION));
  if (v.producer() == 0)
    std::cerr << "warning: " << path << " records no producer version; version skew cannot be detected\n";
  else if (v.producer() > TF_GRAPH_DEF_VERSION)
    std::cerr << "warning: " << path << " was made by a newer TensorFlow (producer " << v.producer() << " > "
              << TF_GRAPH_DEF_VERSION << ")\n";
}

tensorflow::GraphDef LoadGraph(const std::string& path) {
  tensorflow::GraphDef graph_def;
  RequireRegularFile(path, "graph");
  auto binary = tensorflow::ReadBinaryProto(tensorflow::Env::Default(), path, &graph_def);
  if (!binary.ok() || graph_def.node_size() == 0) {
    graph_def.Clear();
    auto text = tensorflow::ReadTextProto(tensorflow::Env::Default(), path, &graph_def);
    if (!text.ok() || graph_def.node_size() == 0) Fail(path + " parses neither as a binary nor as a text GraphDef");
  }
  CheckVersions(graph_def, path);
  return graph_def;
}

std::string OpName(const std::string& name) {
  size_t start = name.empty() || name[0] != '^' ? 0 : 1;
  return name.substr(start, name.find(':') == std::string::npos ? std::string::npos : name.find(':') - start);
}

// The nodes `roots` (op or tensor names) depend on, themselves included, through data and control inputs.
std::set<std::string> Ancestors(const tensorflow::GraphDef& graph_def, const std::vector<std::string>& roots) {
  std::map<std::string, const tensorflow::NodeDef*> nodes;
  for (const auto& node : graph_def.node()) nodes[node.name()] = &node;
  std::set<std::string> seen;
  std::vector<std::string> stack;
  for (const auto& root : roots) stack.push_back(OpName(root));
  while (!stack.empty()) {
    std::string name = stack.back();
    stack.pop_back();
    auto found = nodes.find(name);
    if (found == nodes.end() || !seen.insert(name).second) continue;
    for (const auto& input : found->second->input()) stack.push_back(OpName(input));
  }
  return seen;
}

// A SavedModel's Saver ops: SaveV2/RestoreV2/MergeV2Checkpoints its restore op or save tensor depends on.
std::set<std::string> SaverOps(const tensorflow::MetaGraphDef& meta) {
  std::vector<std::string> roots;
  for (const auto& name : {meta.saver_def().restore_op_name(), meta.saver_def().save_tensor_name()})
    if (!name.empty()) roots.push_back(name);
  std::set<std::string> types = {"SaveV2", "RestoreV2", "MergeV2Checkpoints"}, saver;
  auto ancestors = Ancestors(meta.graph_def(), roots);
  for (const auto& node : meta.graph_def().node())
    if (ancestors.count(node.name()) && types.count(node.op())) saver.insert(node.name());
  return saver;
}

// What a SavedModel loader runs after the restore: its main (init) op and legacy init op.
std::vector<std::string> InitOps(const tensorflow::MetaGraphDef& meta) {
  std::vector<std::string> names;
  auto init = meta.signature_def().find("__saved_model_init_op");
  if (init != meta.signature_def().end())
    for (const auto& output : init->second.outputs()) names.push_back(output.second.name());
  for (const std::string key : {"saved_model_main_op", "legacy_init_op"}) {
    auto collection = meta.collection_def().find(key);
    if (collection != meta.collection_def().end())
      for (const auto& name : collection->second.node_list().value()) names.push_back(name);
  }
  return names;
}

// Stateful by TensorFlow's mark, but their state lives in the session: safe to run.
const std::set<std::string> kHarmlessStateful = {
    "RandomUniform", "RandomUniformInt", "RandomStandardNormal", "TruncatedNormal",
    "ParameterizedTruncatedNormal", "RandomShuffle", "Multinomial", "RandomGamma",
    "RandomPoisson", "RandomPoissonV2",
    "Assert",
    "VariableV2", "Variable", "VarHandleOp", "ReadVariableOp",
    "If", "While", "Case", "StatefulPartitionedCall",
};
// Not marked stateful, yet they read or write outside the graph.
const std::set<std::string> kReachesOutside = {
    "ReadFile", "MatchingFiles", "ImmutableConst", "DecodeProtoV2", "SnapshotDataset",
    "SnapshotDatasetV2", "DebugIdentity", "DebugNanCount", "DebugNumericSummary",
    "PyFuncStateless",
};

// Why an op type may not run in an untrusted graph, or "" when it may.
std::string WhyRefused(const std::string& type) {
  if (kReachesOutside.count(type)) return "reads or writes outside the graph";
  const tensorflow::OpDef* op_def = nullptr;
  if (!tensorflow::OpRegistry::Global()->LookUpOpDef(type, &op_def).ok())
    return "an op this TensorFlow does not know";
  if (op_def->is_stateful() && !kHarmlessStateful.count(type))
    return "stateful: TensorFlow marks it as doing more than computing its outputs";
  return "";
}

// Refuses a graph whose ops (or its function library's) reach outside it, but those `allowed`, unless trusted.
void CheckUntrusted(const tensorflow::GraphDef& graph_def, const std::string& path, bool trust,
                    const std::set<std::string>& allowed = {}) {
  std::vector<std::string> found;
  // A call of one of the library's functions has the function's name as its op type; what it
  // runs is its body, checked below.
  std::set<std::string> functions;
  for (const auto& function : graph_def.library().function()) functions.insert(function.signature().name());
  auto check = [&](const std::string& name, const std::string& type) {
    std::string why = functions.count(type) || allowed.count(name) ? "" : WhyRefused(type);
    if (!why.empty()) found.push_back(name + " (" + type + ": " + why + ")");
  };
  for (const auto& node : graph_def.node()) check(node.name(), node.op());
  for (const auto& function : graph_def.library().function())
    for (const auto& node : function.node_def()) check(function.signature().name() + "/" + node.name(), node.op());
  if (found.empty() || trust) return;
  std::string shown;
  for (size_t i = 0; i < found.size() && i < 5; ++i) shown += (i ? "; " : "") + found[i];
  if (found.size() > 5) shown += "; and " + std::to_string(found.size() - 5) + " more";
  Fail(path + " holds " + std::to_string(found.size()) + " op(s) that reach outside the graph, refused before anything ran: " +
       shown + ". A graph is a program: run it only if you trust where it came from, then pass --trust_graph");
}

const tensorflow::NodeDef& FindNode(const tensorflow::GraphDef& graph_def, const std::string& name) {
  std::string op = name.substr(0, name.find(':'));
  for (const auto& node : graph_def.node())
    if (node.name() == op) return node;
  std::string placeholders;
  for (const auto& node : graph_def.node())
    if (node.op() == "Placeholder") placeholders += " " + node.name();
  Fail("node '" + op + "' is not in the graph (placeholders:" + (placeholders.empty() ? " none" : placeholders) +
       "); names are op names, without the 'import/' prefix a Python import adds");
}

// A SavedModel signature's one input and one output tensor names.
std::pair<std::string, std::string> FromSignature(const tensorflow::MetaGraphDef& meta, const std::string& key) {
  auto found = meta.signature_def().find(key);
  std::string keys;
  for (const auto& signature : meta.signature_def()) keys += " " + signature.first;
  if (found == meta.signature_def().end()) Fail("the SavedModel has no signature '" + key + "'; it has:" + keys);
  const auto& signature = found->second;
  if (signature.inputs_size() != 1 || signature.outputs_size() != 1)
    Fail("signature '" + key + "' has " + std::to_string(signature.inputs_size()) + " inputs and " +
         std::to_string(signature.outputs_size()) + " outputs; load_graph feeds one and fetches one (name them with "
         "--input and --output instead)");
  return {signature.inputs().begin()->second.name(), signature.outputs().begin()->second.name()};
}

int Run(Options o) {
  bool saved_model = !SavedModelFile(o.graph).empty();
  tensorflow::MetaGraphDef meta;
  tensorflow::GraphDef graph_def;
  std::set<std::string> saver;
  if (saved_model) {
    meta = ReadServeMetaGraph(o.graph);
    graph_def = meta.graph_def();
    CheckVersions(graph_def, o.graph);
    saver = SaverOps(meta);
    if (!o.signature.empty()) std::tie(o.input, o.output) = FromSignature(meta, o.signature);
  } else {
    if (!o.signature.empty()) Fail("--signature applies to a SavedModel folder; " + o.graph + " is not one");
    graph_def = LoadGraph(o.graph);
  }
  CheckUntrusted(graph_def, o.graph, o.trust_graph, saver);
  const tensorflow::NodeDef& input_node = FindNode(graph_def, o.input);
  FindNode(graph_def, o.output);
  if (saved_model && !o.trust_graph) {
    // Loading runs the init ops; the output runs next: neither may run the Saver's ops.
    std::vector<std::string> fetches = InitOps(meta);
    fetches.push_back(o.output);
    std::string reached;
    for (const auto& name : Ancestors(graph_def, fetches))
      if (saver.count(name)) reached += " " + name;
    if (!reached.empty())
      Fail("running " + o.output + " or the init ops of " + o.graph + " would run its Saver's ops" + reached +
           " (they write or read checkpoints); refused");
  }

  std::vector<uint32_t> image_dims;
  std::string pixels = ReadIdx(o.images, 2051, &image_dims);
  long n = image_dims[0], width = long{image_dims[1]} * image_dims[2];
  if (o.limit >= 0) n = std::min(n, o.limit);
  std::string labels;
  if (!o.labels.empty()) {
    std::vector<uint32_t> label_dims;
    labels = ReadIdx(o.labels, 2049, &label_dims);
    if (label_dims[0] != image_dims[0])
      Fail(o.images + " has " + std::to_string(image_dims[0]) + " images but " + o.labels + " has " +
           std::to_string(label_dims[0]) + " labels");
  }
  // The loader feeds a float32 batch [n, rows * cols]: the input must take exactly that (an
  // unknown rank is accepted, as Python's feed check accepts it).
  if (input_node.op() != "Placeholder")
    Fail("input " + input_node.name() + " is a " + input_node.op() + ", not a Placeholder to feed");
  if (input_node.attr().count("dtype") && input_node.attr().at("dtype").type() != tensorflow::DT_FLOAT)
    Fail("input " + input_node.name() + " takes " + tensorflow::DataTypeString(input_node.attr().at("dtype").type()) +
         "; load_graph feeds float32 pixels");
  if (input_node.attr().count("shape") && !input_node.attr().at("shape").shape().unknown_rank()) {
    const auto& shape = input_node.attr().at("shape").shape();
    std::string text = "[";
    for (int i = 0; i < shape.dim_size(); ++i)
      text += (i ? "," : "") + (shape.dim(i).size() < 0 ? std::string("?") : std::to_string(shape.dim(i).size()));
    text += "]";
    if (shape.dim_size() != 2)
      Fail("input " + input_node.name() + " has shape " + text + "; load_graph feeds flat images [n, " +
           std::to_string(width) + "] (rank 2), as the exports of cadl-graph export_graph take them");
    if (shape.dim(1).size() >= 0 && shape.dim(1).size() != width)
      Fail("input " + input_node.name() + " takes " + std::to_string(shape.dim(1).size()) +
           " values per example, the images have " + std::to_string(width) + " (" + std::to_string(image_dims[1]) +
           "x" + std::to_string(image_dims[2]) + ")");
  }

  tensorflow::SessionOptions session_options;  // TensorFlow's defaults, as Python's session
  std::unique_ptr<tensorflow::Session> session;
  tensorflow::Status status;
  if (saved_model) {
    tensorflow::SavedModelBundle bundle;
    status = tensorflow::LoadSavedModel(session_options, tensorflow::RunOptions(), o.graph, {"serve"}, &bundle);
    if (!status.ok()) Fail("cannot load the SavedModel " + o.graph + ": " + std::string(status.message()));
    session = std::move(bundle.session);
  } else {
    session.reset(tensorflow::NewSession(session_options));
    status = session->Create(graph_def);
    if (!status.ok()) Fail("cannot create a session for " + o.graph + ": " + std::string(status.message()));
  }
  // Where ops run (--inter_op): in the calling thread, one at a time ("caller"), or on the
  // session's inter-op pool ("pool", TensorFlow's default). Each op spreads its own work over the
  // intra-op pool either way. The caller thread saves a hand-off per op, which wins on small
  // graphs; the pool overlaps independent branches, which wins when a graph has heavy ones (the
  // conv VAE's batch norms compute batch moments beside the main path). "auto" times both on
  // the first batches and keeps the faster. Both give bit-identical outputs.
  // The feed and fetch are resolved once, not looked up by name on every batch.
  std::map<std::string, tensorflow::Session::CallableHandle> callables;
  for (const auto& [mode, pool] : {std::pair<std::string, int>{"caller", -1}, {"pool", 0}}) {
    if (o.inter_op != "auto" && o.inter_op != mode) continue;
    tensorflow::CallableOptions callable_options;
    callable_options.add_feed(o.input);
    callable_options.add_fetch(o.output);
    callable_options.mutable_run_options()->set_inter_op_thread_pool(pool);
    status = session->MakeCallable(callable_options, &callables[mode]);
    if (!status.ok()) Fail("running " + o.output + ": " + std::string(status.message()));
  }

  // Every pixel is scaled once, through a table, into one float tensor [n, width]; a batch is a
  // view of its rows, copied only when the view would not be aligned as TensorFlow needs.
  float scaled[256];
  for (int v = 0; v < 256; ++v) scaled[v] = v / 255.0f;
  tensorflow::Tensor inputs(tensorflow::DT_FLOAT, tensorflow::TensorShape({n, width}));
  float* input_data = inputs.flat<float>().data();
  const auto* bytes = reinterpret_cast<const unsigned char*>(pixels.data());
  for (long i = 0; i < n * width; ++i) input_data[i] = scaled[bytes[i]];

  std::vector<float> outputs;
  long out_width = 0;
  // A session's first run optimizes the graph: time the batches after the first one (or the
  // only one).
  auto started = std::chrono::steady_clock::now();
  long timed = n;
  std::vector<tensorflow::Tensor> fetched;
  // With --inter_op=auto, batches 1-6 alternate between the two modes (batch 0 warms up), then
  // the faster mode by median batch time runs the rest; the tuning batches are timed too.
  constexpr long kTrials = 6;
  std::string mode = o.inter_op == "auto" ? "caller" : o.inter_op;
  std::map<std::string, std::vector<double>> trial_seconds;
  std::string choice = o.inter_op == "auto" ? "" : o.inter_op + " (--inter_op)";
  for (long start = 0, b = 0; start < n; start += o.batch, ++b) {
    if (o.inter_op == "auto" && b >= 1 && b <= kTrials) mode = b % 2 ? "pool" : "caller";
    if (o.inter_op == "auto" && b == kTrials + 1) {
      auto median = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
      };
      double caller = median(trial_seconds["caller"]), pool = median(trial_seconds["pool"]);
      mode = caller <= pool ? "caller" : "pool";
      char text[160];
      std::snprintf(text, sizeof text, "%s (auto: median batch %.3f ms in the caller thread, %.3f ms on the pool)",
                    mode.c_str(), caller * 1e3, pool * 1e3);
      choice = text;
    }
    auto batch_started = std::chrono::steady_clock::now();
    // Ops now run on this thread: flush denormal floats to zero while they run, as TensorFlow's
    // pool threads do on theirs, so outputs stay bit for bit what the default session gives.
    tensorflow::port::ScopedFlushDenormal flush_denormals;
    long rows = std::min(o.batch, n - start);
    tensorflow::Tensor x = inputs.Slice(start, start + rows);
    if (!x.IsAligned()) {
      x = tensorflow::Tensor(tensorflow::DT_FLOAT, tensorflow::TensorShape({rows, width}));
      std::memcpy(x.flat<float>().data(), input_data + start * width, rows * width * sizeof(float));
    }
    fetched.clear();
    status = session->RunCallable(callables[mode], {x}, &fetched, nullptr);
    if (o.inter_op == "auto" && b >= 1 && b <= kTrials)
      trial_seconds[mode].push_back(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - batch_started).count());
    if (!status.ok()) Fail("running " + o.output + ": " + std::string(status.message()));
    if (fetched[0].dtype() != tensorflow::DT_FLOAT)
      Fail("output " + o.output + " is " + tensorflow::DataTypeString(fetched[0].dtype()) +
           "; load_graph reads float32 outputs");
    // The first batch gives the output's width: room for every row is made once.
    if (start == 0) {
      out_width = fetched[0].NumElements() / rows;
      outputs.resize(n * out_width);
    }
    if (fetched[0].NumElements() != rows * out_width)
      Fail("output " + o.output + " gave " + std::to_string(fetched[0].NumElements()) + " values for " +
           std::to_string(rows) + " images, not " + std::to_string(out_width) + " per image as the first batch did");
    std::memcpy(outputs.data() + start * out_width, fetched[0].flat<float>().data(),
                rows * out_width * sizeof(float));
    if (start == 0 && rows < n) {
      started = std::chrono::steady_clock::now();
      timed = n - rows;
    }
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cout << "graph " << o.graph << ": " << graph_def.node_size() << " nodes; ran " << n << " images through "
            << o.input << " -> " << o.output << " (" << out_width << " values each)\n";
  if (choice.empty()) choice = "caller (auto: too few batches to compare)";
  std::cout << "inter-op: " << choice << "\n";
  std::printf("timing %.6f s for %ld images, peak memory %.0f MB, %.1f images/s\n", seconds, timed,
              PeakMegabytes(), seconds > 0 ? timed / seconds : 0.0);

  if (!labels.empty() && out_width == 10) {
    long correct = 0;
    for (long i = 0; i < n; ++i) {
      const float* row = &outputs[i * 10];
      correct += std::max_element(row, row + 10) - row == static_cast<unsigned char>(labels[i]);
    }
    std::printf("accuracy %.6f (%ld of %ld)\n", static_cast<double>(correct) / n, correct, n);
  } else if (out_width == width) {
    double total = 0;
    for (long i = 0; i < n; ++i) {
      double sum = 0;
      for (long j = 0; j < width; ++j) {
        double d = outputs[i * width + j] - static_cast<unsigned char>(pixels[i * width + j]) / 255.0;
        sum += d * d;
      }
      total += sum / width;
    }
    std::printf("mean reconstruction cost %.6f\n", total / n);
  }
  for (long i = 0; i < std::min(o.rows, n); ++i) {
    std::printf("row %ld:", i);
    for (long j = 0; j < std::min(out_width, 10L); ++j) std::printf(" %.4f", outputs[i * out_width + j]);
    std::printf(out_width > 10 ? " ...\n" : "\n");
  }
  if (!o.dump.empty()) {
    std::string tmp = o.dump + ".tmp";
    std::ofstream out(tmp, std::ios::binary);
    out.write(reinterpret_cast<const char*>(outputs.data()), outputs.size() * sizeof(float));
    out.close();
    if (!out || std::rename(tmp.c_str(), o.dump.c_str()) != 0) Fail("cannot write " + o.dump);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
#ifdef __GLIBC__
  // A batch's activations are megabytes, allocated and freed once per op per batch. By default
  // glibc maps blocks that large afresh each time and unmaps them when freed, so every batch
  // pays page faults again; keeping them in the heap instead made the conv VAE's batches
  // 5-15% faster (measured with GLIBC_TUNABLES, same outputs, same peak memory).
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
#endif
  try {
    return Run(ParseFlags(argc, argv));
  } catch (const Failure& f) {
    std::cerr << "error: " << f.message << "\n";
    return 1;
  }
}
