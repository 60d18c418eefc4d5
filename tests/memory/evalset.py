"""A small retrieval evaluation for the memory: sysadmin memories, and queries of three kinds.

``MEMORIES`` are what a machine's memory holds (key → text). The ``DISTRACTORS`` share words with
the queries but are about something else. ``PARAPHRASES`` say what a memory means in other words
(few or no words in common); ``IDENTIFIERS`` contain a file name, setting, unit or error code that
must find its memory first; ``WORDS`` share words with their memory, as a person retyping what
they saw would. Each query names the key of the one memory it is looking for.
"""

from __future__ import annotations

MEMORIES: dict[str, str] = {
    "disk_full": "no space left on device while writing /var/log/syslog; rsyslog stopped logging",
    "journal_size": "set SystemMaxUse=500M in /etc/systemd/journald.conf and restarted systemd-journald",
    "dns": "name resolution failed: nameserver 10.0.0.2 in /etc/resolv.conf did not answer, switched to 1.1.1.1",
    "nginx_reload": "systemctl reload nginx after editing the virtual host for shop.example.com",
    "oom": "kernel OOM killer terminated java (pid 4211) after it used 7.8 GiB of memory",
    "cert": "renewed the TLS certificate for mail.example.com with certbot; it was due to expire in 3 days",
    "ssh_key": "added a public key for deploy to /home/deploy/.ssh/authorized_keys",
    "apt_upgrade": "apt-get upgrade installed 42 packages including linux-image-6.1.0-13-amd64; reboot required",
    "cron_backup": "crontab entry runs /usr/local/bin/backup.sh every night at 02:30",
    "backup_restore": "restored /srv/www from the snapshot taken before the failed deployment",
    "firewall": "ufw now allows port 8443/tcp from the office network 192.168.10.0/24",
    "postgres_slow": "postgresql queries were slow because autovacuum had not run on the orders table",
    "swap": "created a 2 GiB swapfile at /swapfile and added it to /etc/fstab",
    "time_sync": "the clock drifted by 40 seconds; enabled systemd-timesyncd to keep time in sync",
    "user_added": "created the user alice with useradd -m and added her to the sudo group",
    "docker_prune": "docker system prune freed 12 GB of unused images and stopped containers",
    "load_high": "load average reached 14 on a 2-core machine because of a runaway gzip job",
    "permission": "EACCES: permission denied opening /var/lib/app/data.db; fixed ownership with chown app:app",
    "port_conflict": "nginx failed to start: bind() to 0.0.0.0:80 failed (98: Address already in use) because apache2 was running",
    "log_rotate": "logrotate now compresses /var/log/app/*.log weekly and keeps 8 rotations",
    "python_venv": "created a python virtual environment in /opt/tool/.venv and installed requirements",
    "hostname": "changed the hostname from web01 to shop-web-01 with hostnamectl",
    "mount_nfs": "mounted the NFS share fileserver:/exports/media on /mnt/media",
    "selinux": "an AppArmor profile blocked mysqld from reading /data/mysql; added the path to the profile",
    "smart": "smartctl reports 24 reallocated sectors on /dev/sdb; the disk should be replaced soon",
    "kernel_panic": "the machine rebooted after a kernel panic in the e1000e network driver",
    "git_pull": "git pull in /srv/app failed with a merge conflict in config/settings.py",
    "mail_queue": "postfix mail queue holds 3000 deferred messages because the relay rejects our IP",
    "zombie": "found 57 zombie processes whose parent was a crashed supervisor",
    "inode": "df -i shows 100% inode use on /var because of millions of small session files in /var/lib/php/sessions",
}

DISTRACTORS: dict[str, str] = {
    "d_device": "listed every block device with lsblk to find the new USB stick",
    "d_var": "moved the cache directory out of /var/cache into /srv/cache",
    "d_space": "space bar key on the server console keyboard is stuck",
    "d_restart": "restart of the print spooler cups fixed the stuck printer queue",
    "d_memory": "the memory module in slot 2 was reseated during maintenance",
    "d_certificate": "printed the training certificate for the new admin",
    "d_key": "the spare key to the server room is in the top drawer",
    "d_upgrade": "requested a budget upgrade for next year's hardware",
    "d_backup": "backup tapes were collected by the offsite courier on Friday",
    "d_port": "the ship arrives at the port of Hamburg on Monday",
    "d_slow": "the office coffee machine is slow in the morning",
    "d_time": "time sheet for the on-call week was submitted",
    "d_user": "user survey says people want a dark theme in the dashboard",
    "d_docker": "read an article about docker compose file syntax",
    "d_load": "the delivery truck had a heavy load of new racks",
    "d_log": "wrote a log entry in the change calendar about the meeting",
    "d_disk": "ordered a disk shelf for the storage array",
    "d_mail": "sent mail to the team about the holiday schedule",
    "d_process": "documented the change approval process for the wiki",
    "d_network": "network cabling in room 4 was labelled",
}

PARAPHRASES: list[tuple[str, str]] = [
    ("the disk filled up and logging stopped", "disk_full"),
    ("how big may the system journal grow", "journal_size"),
    ("DNS lookups were not working", "dns"),
    ("web server picked up the new site configuration", "nginx_reload"),
    ("a process was killed because the machine ran out of RAM", "oom"),
    ("https certificate renewal for the mail server", "cert"),
    ("gave the deployment account ssh access", "ssh_key"),
    ("system packages were updated and a restart is needed", "apt_upgrade"),
    ("scheduled nightly backup job", "cron_backup"),
    ("brought the website files back after a bad release", "backup_restore"),
    ("opened a firewall port for the office", "firewall"),
    ("database was slow because of table maintenance", "postgres_slow"),
    ("added virtual memory on disk", "swap"),
    ("the system time was wrong", "time_sync"),
    ("new account with administrator rights", "user_added"),
    ("cleaned up old container images to get space back", "docker_prune"),
    ("the server was overloaded by compression", "load_high"),
    ("the application could not open its database file", "permission"),
    ("web server would not start since something else was listening on port 80", "port_conflict"),
    ("old application logs get compressed every week", "log_rotate"),
    ("failing hard drive needs replacing", "smart"),
    ("network card driver crashed the kernel", "kernel_panic"),
    ("outgoing email is stuck and not delivered", "mail_queue"),
    ("ran out of inodes because of php session files", "inode"),
]

IDENTIFIERS: list[tuple[str, str]] = [
    ("SystemMaxUse", "journal_size"),
    ("resolv.conf", "dns"),
    ("EACCES", "permission"),
    ("linux-image-6.1.0-13-amd64", "apt_upgrade"),
    ("authorized_keys", "ssh_key"),
    ("8443/tcp", "firewall"),
    ("e1000e", "kernel_panic"),
    ("settings.py", "git_pull"),
    ("backup.sh", "cron_backup"),
    ("fstab", "swap"),
]

WORDS: list[tuple[str, str]] = [
    ("no space left on device", "disk_full"),
    ("OOM killer java", "oom"),
    ("certbot certificate", "cert"),
    ("docker system prune", "docker_prune"),
    ("zombie processes supervisor", "zombie"),
    ("nfs share mounted", "mount_nfs"),
    ("apparmor mysqld profile", "selinux"),
    ("git merge conflict", "git_pull"),
    ("hostname hostnamectl", "hostname"),
    ("python virtual environment", "python_venv"),
    ("restore snapshot", "backup_restore"),
    ("postfix deferred", "mail_queue"),
]

ALL: dict[str, str] = {**MEMORIES, **DISTRACTORS}
