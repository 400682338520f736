// Test support for the integration tests, all of it: run the engine binary as a child, talk
// HTTP to it, look at processes, and wait on what can be observed. Each header does one job.
#pragma once

#include "admin_api.hpp"        // admin_model: a model's counters from GET /admin/models
#include "build_paths.hpp"      // where the build put the engine, the plugins, the fake
#include "clock.hpp"            // Clock, chrono literals
#include "config_edit.hpp"      // rewrite: edit a config file before a reload
#include "engine_process.hpp"   // Engine, run_engine_once/args, child_port, only_child
#include "fake_engine.hpp"      // FakeEngine, what the fake llama-server reports
#include "free_port.hpp"        // free_port
#include "http_client.hpp"      // http, connection_refused
#include "kill_child.hpp"       // kill_child: the only way tests signal a process they found
#include "llama_metrics.hpp"    // requests_processing, from a llama-server's /metrics
#include "notify_listener.hpp"  // NotifyListener: stands in for systemd's NOTIFY_SOCKET
#include "proc_inspect.hpp"     // children_of, process_alive, wait_all_gone
#include "real_parts.hpp"       // the real llama-server and the tiny model
#include "server_process.hpp"   // ServerProcess, fake_remote: a remote target the test runs
#include "shell.hpp"            // run_shell, shell_quote
#include "sse_client.hpp"       // stream
#include "temp_dir.hpp"         // TempDir
#include "test_configs.hpp"     // model configs and request bodies
#include "wait.hpp"             // wait_until, Flag, Background
