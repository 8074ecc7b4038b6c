// Graph: nodes are added once (shapes and dtypes checked on the spot), then compiled and run
// many times. Parameters live in a ParameterStore shared by every program compiled from the
// graph, so a training step and an evaluation program see the same weights.
//
//   gg::Graph g;
//   auto x = g.input("x", {64, 784});
//   auto w = g.parameter("w", {784, 10}, gg::init::kaiming_uniform());
//   auto y = gg::matmul(x, w);     // ops/ builders add nodes to x's graph
#pragma once

#include <any>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "graphgrad/graph/init.h"
#include "graphgrad/graph/node.h"
#include "graphgrad/graph/tensor.h"

namespace gg {

struct OpDef;

// Parameters and persistent state by name; checkpoints are dumps of this.
class ParameterStore {
public:
    struct Entry {
        Tensor value;
        bool trainable = true;
    };
    Tensor& get(const std::string& name);
    const Tensor& get(const std::string& name) const;
    bool contains(const std::string& name) const { return entries_.count(name) != 0; }
    const std::map<std::string, Entry>& entries() const { return entries_; }
    void add(const std::string& name, Tensor value, bool trainable);

private:
    std::map<std::string, Entry> entries_;
};

struct ParameterAttrs {
    std::string name;
    bool trainable = true;
};
struct InputAttrs {
    std::string name;
};
struct ConstantAttrs {
    Tensor value;
};

class Graph {
public:
    explicit Graph(uint64_t seed = 0x5eed);
    // Values point at their graph: a Graph stays where it was made.
    Graph(const Graph&) = delete;
    Graph& operator=(const Graph&) = delete;

    Value input(const std::string& name, Shape shape, DType dtype = DType::F32);
    Value parameter(const std::string& name, Shape shape, const Initializer& init = init::zeros(),
                    DType dtype = DType::F32);
    // Persistent, non-trainable state (e.g. batch-norm running statistics).
    Value state(const std::string& name, Shape shape, const Initializer& init, DType dtype = DType::F32);
    Value constant(Tensor value, const std::string& name = {});
    Value scalar(double value, DType dtype = DType::F32);

    // Adds a node after checking arity, graphs and dtypes of inputs, the attributes' type
    // against the one the op declares, and running the op's shape rule; errors name the op,
    // the node and the input shapes. `op` may come from any OpRegistry that outlives the graph.
    std::vector<Value> add_node(const OpDef& op, std::vector<Value> inputs, std::any attrs = {},
                                const std::string& name = {});
    Value add_node1(const OpDef& op, std::vector<Value> inputs, std::any attrs = {}, const std::string& name = {});

    const Node& node(int32_t id) const { return nodes_.at(static_cast<std::size_t>(id)); }
    int32_t num_nodes() const { return static_cast<int32_t>(nodes_.size()); }
    std::vector<Value> inputs() const;
    std::vector<Value> parameters(bool trainable_only = true) const;
    Value find(const std::string& node_name) const;  // throws if absent

    ParameterStore& store() { return *store_; }
    const ParameterStore& store() const { return *store_; }
    std::shared_ptr<ParameterStore> store_ptr() const { return store_; }
    uint64_t seed() const { return seed_; }

    // Name scopes: nodes made inside get "scope.name" (e.g. "layer1.conv1.weight").
    std::string scoped(const std::string& name) const;
    void push_scope(const std::string& s) { scopes_.push_back(s); }
    void pop_scope() { scopes_.pop_back(); }

    // Set by grad() while it appends the backward pass.
    void set_building_gradient(bool on) { building_gradient_ = on; }

private:
    Value add_source(const char* op, const std::string& name, TensorDesc desc, std::any attrs);
    // A parameter node (trainable) or state, its tensor initialised and put in the store.
    Value add_stored(const std::string& full_name, Shape shape, const Initializer& init, DType dtype, bool trainable);

    std::deque<Node> nodes_;  // deque: references to nodes survive additions
    std::map<std::string, int32_t> by_name_;
    std::shared_ptr<ParameterStore> store_;
    std::vector<std::string> scopes_;
    uint64_t seed_;
    bool building_gradient_ = false;
};

// RAII name scope:  { gg::NameScope s(g, "conv1"); auto w = g.parameter("weight", ...); }
class NameScope {
public:
    NameScope(Graph& g, const std::string& s) : g_(g) { g_.push_scope(s); }
    ~NameScope() { g_.pop_scope(); }
    NameScope(const NameScope&) = delete;
    NameScope& operator=(const NameScope&) = delete;

private:
    Graph& g_;
};

// Ensures two values belong to the same graph; returns it.
Graph& common_graph(const char* op, const std::vector<Value>& values);

}  // namespace gg
