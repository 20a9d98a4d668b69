package ctl

import "strings"

// helpTopics are the texts of `help <topic>`, byte for byte those of
// Python's supervisorctl so scripts and muscle memory carry over.
var helpTopics = map[string]string{
	"add":      "add <name> [...]\tActivates any updates in config for process/group\n",
	"avail":    "avail\t\t\tDisplay all configured processes\n",
	"clear":    "clear <name>\t\tClear a process' log files.\nclear <name> <name>\tClear multiple process' log files\nclear all\t\tClear all process' log files\n",
	"exit":     "exit\tExit the supervisor shell.\n",
	"fg":       "fg <process>\tConnect to a process in foreground mode\n\t\tCtrl-C to exit\n",
	"help":     "help\t\tPrint a list of available actions\nhelp <action>\tPrint help for <action>\n",
	"maintail": "maintail -f \tContinuous tail of supervisor main log file (Ctrl-C to exit)\nmaintail -100\tlast 100 *bytes* of supervisord main log file\nmaintail\tlast 1600 *bytes* of supervisor main log file\n\n",
	"open":     "open <url>\tConnect to a remote supervisord process.\n\t\t(for UNIX domain socket, use unix:///socket/path)\n",
	"pid":      "pid\t\t\tGet the PID of supervisord.\npid <name>\t\tGet the PID of a single child process by name.\npid all\t\t\tGet the PID of every child process, one per line.\n",
	"quit":     "quit\tExit the supervisor shell.\n",
	"reload":   "reload \t\tRestart the remote supervisord.\n",
	"remove":   "remove <name> [...]\tRemoves process/group from active config\n",
	"reread":   "reread \t\t\tReload the daemon's configuration files without add/remove\n",
	"restart":  "restart <name>\t\tRestart a process\nrestart <gname>:*\tRestart all processes in a group\nrestart <name> <name>\tRestart multiple processes or groups\nrestart all\t\tRestart all processes\nNote: restart does not reread config files. For that, see reread and update.\n",
	"shutdown": "shutdown \tShut the remote supervisord down.\n",
	"signal":   "signal <signal name> <name>\t\tSignal a process\nsignal <signal name> <gname>:*\t\tSignal all processes in a group\nsignal <signal name> <name> <name>\tSignal multiple processes or groups\nsignal <signal name> all\t\tSignal all processes\n",
	"start":    "start <name>\t\tStart a process\nstart <gname>:*\t\tStart all processes in a group\nstart <name> <name>\tStart multiple processes or groups\nstart all\t\tStart all processes\n",
	"status":   "status <name>\t\tGet status for a single process\nstatus <gname>:*\tGet status for all processes in a group\nstatus <name> <name>\tGet status for multiple named processes\nstatus\t\t\tGet all process status info\n",
	"stop":     "stop <name>\t\tStop a process\nstop <gname>:*\t\tStop all processes in a group\nstop <name> <name>\tStop multiple processes or groups\nstop all\t\tStop all processes\n",
	"tail":     "tail [-f] <name> [stdout|stderr] (default stdout)\nEx:\ntail -f <name>\t\tContinuous tail of named process stdout\n\t\t\tCtrl-C to exit.\ntail -100 <name>\tlast 100 *bytes* of process stdout\ntail <name> stderr\tlast 1600 *bytes* of process stderr\n",
	"update":   "update\t\t\tReload config and add/remove as necessary, and will restart affected programs\nupdate all\t\tReload config and add/remove as necessary, and will restart affected programs\nupdate <gname> [...]\tUpdate specific groups\n",
	"version":  "version\t\t\tShow the version of the remote supervisord process\n",
}

// helpIndex is `help` without a topic: the command table as Python's cmd
// module columnizes it.
const helpIndex = "\ndefault commands (type help <topic>):\n" +
	"=====================================\n" +
	"add    exit      open  reload  restart   start   tail   \n" +
	"avail  fg        pid   remove  shutdown  status  update \n" +
	"clear  maintail  quit  reread  signal    stop    version\n\n"

// help prints the help for topic, or the index when topic is empty.
func (c *Controller) help(topic string) {
	topic = strings.TrimSpace(topic)
	switch {
	case topic == "":
		c.write(helpIndex)
	case helpTopics[topic] != "":
		c.write(helpTopics[topic])
	default:
		c.output("*** No help on " + topic)
	}
}

// usageHelp prints the help of cmd after a usage error.
func (c *Controller) usageHelp(cmd string) { c.write(helpTopics[cmd]) }

// usageError prints "Error: msg" and cmd's help, as Python's client does
// for a command given the wrong arguments, and sets the exit status.
func (c *Controller) usageError(cmd, msg string, exit int) error {
	c.output("Error: " + msg)
	c.exit = exit
	c.usageHelp(cmd)
	return nil
}
