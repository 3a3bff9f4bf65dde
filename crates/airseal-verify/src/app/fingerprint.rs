//! Machine fingerprints: the salted component hashes a node-locked license is bound to
//! (`SPEC.md` §4.2).
//!
//! A [`Fingerprint`] is a set of [`Component`]s (OS machine id, DMI product UUID, MAC
//! address, hostname, root disk serial, or ids the app supplies). Raw values stay in memory;
//! only salted 8-byte hashes leave the machine, so an activation request reveals no hardware
//! id and two vendors (different product ids) cannot correlate a user.
//!
//! # Hash construction (`airseal-fingerprint-v1`)
//!
//! For product id `P`, component kind name `K` and normalized value `V` (all UTF-8):
//!
//! ```text
//! hash = SHA-256( "airseal-fingerprint-v1" 0x00 ‖ P ‖ 0x00 ‖ K ‖ 0x00 ‖ V )[0..8]
//! ```
//!
//! i.e. the first 8 bytes of the digest. `P` and `K` must not contain NUL (the separator);
//! `V` is last, so it may contain anything. Kind names: `machine-id`, `product-uuid`, `mac`,
//! `hostname`, `root-disk`, and `custom:<name>` for app-defined kinds.
//!
//! Normalization (so the same id read another way hashes the same): surrounding whitespace
//! is trimmed from every value; then `machine-id` is lowercased; `product-uuid` is
//! lowercased with `-` removed; `mac` is lowercased with `:`, `-` and `.` removed
//! (`AA-BB-CC-00-11-22` ≡ `aa:bb:cc:00:11:22` ≡ `aabbcc001122`); `hostname` is lowercased
//! with a trailing `.` removed; `root-disk` and `custom:*` values are only trimmed.
//!
//! Vector: product `photo-pro`, kind `machine-id`, value `3d1219c7c4c5404aaa1f6d2a48adfda4`
//! gives `158ef8d1ac84962e`.
//!
//! # Sources
//!
//! [`Fingerprint::collect`] reads ids directly from files, never by running commands, and
//! skips whatever is absent or unreadable. On Linux:
//!
//! * `machine-id`: `/etc/machine-id`, else `/var/lib/dbus/machine-id`;
//! * `product-uuid`: `/sys/class/dmi/id/product_uuid` (often readable by root only);
//! * `mac`: `/sys/class/net/*/address` of the lowest-named interface that has a `device`
//!   link (a physical one), skipping `lo`, all-zero and locally administered addresses;
//! * `hostname`: `/proc/sys/kernel/hostname` (not `localhost` or `(none)`);
//! * `root-disk`: the device of `/` in `/proc/self/mountinfo`, through
//!   `/sys/dev/block/<major>:<minor>` to its whole disk, then the first of `device/serial`,
//!   `device/wwid`, `wwid`, `serial` there.
//!
//! On other platforms `collect` returns an empty fingerprint: their ids need platform APIs
//! (unsafe code) or commands. Apps there, and in containers, VMs and cloud instances, supply
//! components with [`Fingerprint::with`] (an instance id from the orchestrator, a value the
//! app stores at install time, or an id read with a platform crate).
//!
//! # Cloned VMs
//!
//! A VM cloned from an image keeps the image's machine id, and a cloned VM definition keeps
//! its DMI UUID, so clones match each other's licenses unless something differs. A vendor
//! who cares binds with a threshold that the shared components cannot reach alone (for
//! example 3 of machine id, DMI UUID, MAC and hostname, since hypervisors give clones new
//! MACs), or has the app add an instance id it gets from the platform with
//! [`Fingerprint::with`] and binds to that.

use alloc::borrow::Cow;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use airseal_core::claims::COMPONENT_HASH_LEN;
use sha2::{Digest, Sha256};

use crate::Machine;

/// Domain separation for component hashes; a new construction gets a new version.
const HASH_DOMAIN: &[u8] = b"airseal-fingerprint-v1\0";

/// What a component identifies. The kind's name is part of its hash, so the same value as
/// two kinds never gives the same hash.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ComponentKind {
    /// The operating system's machine id (`/etc/machine-id`), set at install time.
    MachineId,
    /// The firmware's (DMI/SMBIOS) product UUID.
    ProductUuid,
    /// The permanent address of the primary physical network interface.
    MacAddress,
    /// The host name.
    Hostname,
    /// The serial number (or WWID) of the disk holding the root file system.
    RootDisk,
    /// An app-defined id, named by the app (for example a cloud instance id).
    Custom(String),
}

impl ComponentKind {
    /// The stable name hashed with the value (`machine-id`, …, `custom:<name>`): it must
    /// never change, or every binding made with it breaks.
    pub fn name(&self) -> Cow<'_, str> {
        match self {
            Self::MachineId => Cow::Borrowed("machine-id"),
            Self::ProductUuid => Cow::Borrowed("product-uuid"),
            Self::MacAddress => Cow::Borrowed("mac"),
            Self::Hostname => Cow::Borrowed("hostname"),
            Self::RootDisk => Cow::Borrowed("root-disk"),
            Self::Custom(name) => Cow::Owned(alloc::format!("custom:{name}")),
        }
    }

    /// The value in its canonical form, so ids read differently on different systems
    /// (case, separators, padding) give the same hash.
    fn normalize(&self, value: &str) -> String {
        let v = value.trim();
        match self {
            Self::MachineId => v.to_ascii_lowercase(),
            Self::ProductUuid => v
                .chars()
                .filter(|&c| c != '-')
                .collect::<String>()
                .to_ascii_lowercase(),
            Self::MacAddress => v
                .chars()
                .filter(|c| !matches!(c, ':' | '-' | '.'))
                .collect::<String>()
                .to_ascii_lowercase(),
            Self::Hostname => v.strip_suffix('.').unwrap_or(v).to_ascii_lowercase(),
            Self::RootDisk | Self::Custom(_) => v.to_string(),
        }
    }
}

/// One identifying value of the machine. The raw value is kept in memory only: `Debug`
/// hides it so it does not end up in logs, and only its salted hash is ever sent.
#[derive(Clone, PartialEq, Eq)]
pub struct Component {
    kind: ComponentKind,
    value: String,
}

impl Component {
    /// A component of `kind` with `value` (stored normalized).
    pub fn new(kind: ComponentKind, value: &str) -> Self {
        let value = kind.normalize(value);
        Self { kind, value }
    }

    /// What the component identifies.
    pub fn kind(&self) -> &ComponentKind {
        &self.kind
    }

    /// The normalized raw value; for display on this machine only, never to be sent.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The salted hash of this component for `product` (see the module docs).
    pub fn hash(&self, product: &str) -> [u8; COMPONENT_HASH_LEN] {
        let digest = Sha256::new()
            .chain_update(HASH_DOMAIN)
            .chain_update(product.as_bytes())
            .chain_update([0])
            .chain_update(self.kind.name().as_bytes())
            .chain_update([0])
            .chain_update(self.value.as_bytes())
            .finalize();
        let mut out = [0; COMPONENT_HASH_LEN];
        for (o, d) in out.iter_mut().zip(digest.iter()) {
            *o = *d;
        }
        out
    }
}

impl fmt::Debug for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Component")
            .field("kind", &self.kind)
            .field("value", &"<hidden>")
            .finish()
    }
}

/// The components identifying this machine, at most one per kind, in a stable order
/// (collected ones first, in the order of the module docs, then added ones).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fingerprint {
    components: Vec<Component>,
}

impl Fingerprint {
    /// An empty fingerprint, for apps that supply every component themselves.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads this machine's components, best effort: a source that is absent or unreadable
    /// is skipped, never an error. Empty on platforms other than Linux (see the module docs).
    pub fn collect() -> Self {
        #[cfg(target_os = "linux")]
        {
            linux::collect(&linux::StdFs)
        }
        #[cfg(not(target_os = "linux"))]
        {
            Self::default()
        }
    }

    /// Adds a component, or replaces the one of the same kind (app-supplied ids: containers,
    /// VMs, other platforms). A value that is blank after normalization identifies nothing,
    /// so it removes the kind instead.
    #[must_use]
    pub fn with(mut self, kind: ComponentKind, value: &str) -> Self {
        let component = Component::new(kind, value);
        if component.value.is_empty() {
            return self.without(&component.kind);
        }
        match self
            .components
            .iter_mut()
            .find(|c| c.kind == component.kind)
        {
            Some(existing) => *existing = component,
            None => self.components.push(component),
        }
        self
    }

    /// Removes the component of `kind`, if any (a source the app knows to be unstable).
    #[must_use]
    pub fn without(mut self, kind: &ComponentKind) -> Self {
        self.components.retain(|c| &c.kind != kind);
        self
    }

    /// The components, in order.
    pub fn components(&self) -> &[Component] {
        &self.components
    }

    /// The salted hashes for `product`, in component order: what an activation request
    /// carries and a license's machine binding lists.
    pub fn hashes(&self, product: &str) -> Vec<[u8; COMPONENT_HASH_LEN]> {
        self.components.iter().map(|c| c.hash(product)).collect()
    }

    /// This machine as the verifier sees it, for
    /// [`Expected::machine`](crate::Expected::machine).
    pub fn machine(&self, product: &str) -> Machine {
        Machine::from_component_hashes(self.hashes(product))
    }
}

/// The Linux readers, compiled for tests on every platform so they are tested everywhere.
#[cfg(any(target_os = "linux", test))]
mod linux {
    use std::io::Read;
    use std::path::Path;

    use super::{ComponentKind, Fingerprint};
    use alloc::format;
    use alloc::string::{String, ToString};
    use alloc::vec::Vec;

    /// The largest file read: every id file is far smaller, and `mountinfo` rarely larger.
    const MAX_READ: u64 = 1 << 20;

    /// Where the readers get files from: the real file system, or a map in tests.
    pub(super) trait Source {
        /// The file's text, or `None` if it is absent, unreadable or not UTF-8.
        fn read(&self, path: &Path) -> Option<String>;
        /// The entry names of a directory, sorted; empty if it cannot be listed.
        fn list(&self, dir: &Path) -> Vec<String>;
        /// Whether `path` exists (a symbolic link counts even if dangling).
        fn link_exists(&self, path: &Path) -> bool;
    }

    /// The real file system.
    #[derive(Debug)]
    pub(super) struct StdFs;

    impl Source for StdFs {
        fn read(&self, path: &Path) -> Option<String> {
            let mut text = String::new();
            std::fs::File::open(path)
                .ok()?
                .take(MAX_READ)
                .read_to_string(&mut text)
                .ok()?;
            Some(text)
        }

        fn list(&self, dir: &Path) -> Vec<String> {
            let mut names: Vec<String> = std::fs::read_dir(dir)
                .map(|entries| {
                    entries
                        .filter_map(|e| e.ok()?.file_name().into_string().ok())
                        .collect()
                })
                .unwrap_or_default();
            names.sort();
            names
        }

        fn link_exists(&self, path: &Path) -> bool {
            std::fs::symlink_metadata(path).is_ok()
        }
    }

    /// Every component the source provides, in the documented order.
    pub(super) fn collect(src: &dyn Source) -> Fingerprint {
        let mut fp = Fingerprint::new();
        let found = [
            (ComponentKind::MachineId, machine_id(src)),
            (ComponentKind::ProductUuid, product_uuid(src)),
            (ComponentKind::MacAddress, mac_address(src)),
            (ComponentKind::Hostname, hostname(src)),
            (ComponentKind::RootDisk, root_disk(src)),
        ];
        for (kind, value) in found {
            if let Some(value) = value {
                fp = fp.with(kind, &value);
            }
        }
        fp
    }

    /// A trimmed, non-empty file content.
    fn read_trimmed(src: &dyn Source, path: &str) -> Option<String> {
        let text = src.read(Path::new(path))?;
        let text = text.trim();
        (!text.is_empty()).then(|| text.to_string())
    }

    /// True for placeholder ids that many machines share (unset firmware fields).
    fn placeholder(hex: &str) -> bool {
        let mut digits = hex.chars().filter(char::is_ascii_hexdigit);
        digits.clone().all(|c| c == '0') || digits.all(|c| c.eq_ignore_ascii_case(&'f'))
    }

    pub(super) fn machine_id(src: &dyn Source) -> Option<String> {
        ["/etc/machine-id", "/var/lib/dbus/machine-id"]
            .into_iter()
            .filter_map(|p| read_trimmed(src, p))
            // systemd writes "uninitialized" until first boot completes.
            .find(|id| id != "uninitialized" && !placeholder(id))
    }

    pub(super) fn product_uuid(src: &dyn Source) -> Option<String> {
        // Root-only on most distributions: a permission error is just `None`.
        read_trimmed(src, "/sys/class/dmi/id/product_uuid").filter(|id| !placeholder(id))
    }

    pub(super) fn hostname(src: &dyn Source) -> Option<String> {
        read_trimmed(src, "/proc/sys/kernel/hostname")
            .filter(|h| !matches!(h.to_ascii_lowercase().as_str(), "localhost" | "(none)"))
    }

    /// The address of the lowest-named physical interface with a universally administered,
    /// non-zero address. Virtual interfaces (bridges, veth, tun) have no `device` link, and
    /// randomized or assigned addresses have the locally administered bit set.
    pub(super) fn mac_address(src: &dyn Source) -> Option<String> {
        src.list(Path::new("/sys/class/net"))
            .into_iter()
            .filter(|name| name != "lo" && safe_name(name))
            .filter(|name| src.link_exists(Path::new(&format!("/sys/class/net/{name}/device"))))
            .filter_map(|name| read_trimmed(src, &format!("/sys/class/net/{name}/address")))
            .find(|addr| permanent_mac(addr))
    }

    fn permanent_mac(addr: &str) -> bool {
        let octets: Option<Vec<u8>> = addr
            .split(':')
            .map(|o| u8::from_str_radix(o, 16).ok())
            .collect();
        match octets.as_deref() {
            Some([first, ..]) if octets.iter().flatten().any(|&b| b != 0) => first & 0x02 == 0,
            _ => false,
        }
    }

    /// A directory entry name that cannot escape the directory.
    fn safe_name(name: &str) -> bool {
        !name.is_empty() && name != "." && name != ".." && !name.contains('/')
    }

    /// The serial (or WWID) of the whole disk holding `/`.
    pub(super) fn root_disk(src: &dyn Source) -> Option<String> {
        let device = root_device(src)?;
        let disk = whole_disk(src, &device)?;
        ["device/serial", "device/wwid", "wwid", "serial"]
            .into_iter()
            .find_map(|attr| read_trimmed(src, &format!("/sys/block/{disk}/{attr}")))
    }

    /// The kernel name of the block device mounted at `/` (`sda2`, `nvme0n1p2`, `vda`).
    fn root_device(src: &dyn Source) -> Option<String> {
        let mountinfo = src.read(Path::new("/proc/self/mountinfo"))?;
        // Fields: id parent major:minor root mount-point options... - fstype source ...
        // The last mount at `/` is the one in effect.
        let (devno, source) = mountinfo.lines().rev().find_map(|line| {
            let mut fields = line.split(' ');
            let devno = fields.nth(2)?;
            let mount_point = fields.nth(1)?;
            let source = fields.skip_while(|&f| f != "-").nth(2);
            (mount_point == "/").then_some((devno, source))
        })?;
        let uevent = if devno.starts_with("0:") {
            // Anonymous device (btrfs, overlay, tmpfs): try the mount source instead.
            let name = source?.strip_prefix("/dev/")?;
            if !safe_name(name) {
                return None;
            }
            src.read(Path::new(&format!("/sys/class/block/{name}/uevent")))?
        } else {
            src.read(Path::new(&format!("/sys/dev/block/{devno}/uevent")))?
        };
        uevent
            .lines()
            .find_map(|l| l.strip_prefix("DEVNAME="))
            .map(str::to_string)
            .filter(|n| safe_name(n))
    }

    /// The whole disk of `device`: itself if it is a disk, else the disk in `/sys/block`
    /// that has it as a partition subdirectory (`/sys/block/sda/sda2`).
    fn whole_disk(src: &dyn Source, device: &str) -> Option<String> {
        if src.link_exists(Path::new(&format!("/sys/block/{device}"))) {
            return Some(device.to_string());
        }
        src.list(Path::new("/sys/block"))
            .into_iter()
            .filter(|disk| safe_name(disk))
            .find(|disk| src.link_exists(Path::new(&format!("/sys/block/{disk}/{device}"))))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::collections::BTreeMap;
    use std::path::Path;

    use super::linux::{self, Source};
    use super::*;
    use alloc::vec;

    /// An in-memory file system: files with content, and paths that merely exist (links,
    /// directories). Directories are listed from the paths below them.
    #[derive(Default)]
    struct Fake {
        files: BTreeMap<String, String>,
        exists: Vec<String>,
    }

    impl Fake {
        fn file(mut self, path: &str, text: &str) -> Self {
            self.files.insert(path.into(), text.into());
            self
        }
        fn link(mut self, path: &str) -> Self {
            self.exists.push(path.into());
            self
        }
    }

    impl Source for Fake {
        fn read(&self, path: &Path) -> Option<String> {
            self.files.get(path.to_str()?).cloned()
        }
        fn list(&self, dir: &Path) -> Vec<String> {
            let prefix = format!("{}/", dir.to_str().unwrap_or(""));
            let mut names: Vec<String> = self
                .files
                .keys()
                .chain(&self.exists)
                .filter_map(|p| p.strip_prefix(&prefix)?.split('/').next())
                .map(String::from)
                .collect();
            names.sort();
            names.dedup();
            names
        }
        fn link_exists(&self, path: &Path) -> bool {
            let p = path.to_str().unwrap_or("");
            self.exists.iter().any(|e| e == p) || self.files.contains_key(p)
        }
    }

    #[test]
    fn machine_id_present_fallback_and_absent() {
        let fs = Fake::default().file("/etc/machine-id", "3D1219C7C4C5404AAA1F6D2A48ADFDA4\n");
        assert_eq!(
            linux::machine_id(&fs).as_deref(),
            Some("3D1219C7C4C5404AAA1F6D2A48ADFDA4")
        );
        let fs = Fake::default()
            .file("/etc/machine-id", "uninitialized\n")
            .file("/var/lib/dbus/machine-id", "abc\n");
        assert_eq!(linux::machine_id(&fs).as_deref(), Some("abc"));
        assert_eq!(linux::machine_id(&Fake::default()), None);
        let fp = linux::collect(&Fake::default());
        assert!(fp.components().is_empty());
    }

    #[test]
    fn unreadable_dmi_uuid_is_skipped() {
        // A permission error reads as None, like an absent file.
        let fs = Fake::default().file("/etc/machine-id", "ab\n");
        let fp = linux::collect(&fs);
        assert!(
            fp.components()
                .iter()
                .all(|c| c.kind() != &ComponentKind::ProductUuid)
        );
        let fs = fs.file(
            "/sys/class/dmi/id/product_uuid",
            "4C4C4544-0042-3510-8052-B4C04F4E4B32\n",
        );
        let fp = linux::collect(&fs);
        let uuid = fp.components().get(1).unwrap();
        assert_eq!(uuid.kind(), &ComponentKind::ProductUuid);
        assert_eq!(uuid.value(), "4c4c4544004235108052b4c04f4e4b32");
        let zero = Fake::default().file(
            "/sys/class/dmi/id/product_uuid",
            "00000000-0000-0000-0000-000000000000",
        );
        assert_eq!(linux::product_uuid(&zero), None);
    }

    #[test]
    fn mac_selection_skips_lo_virtual_zero_and_local() {
        let fs = Fake::default()
            .file("/sys/class/net/lo/address", "00:00:00:00:00:00\n")
            .link("/sys/class/net/lo/device") // even if it had one
            .file("/sys/class/net/br0/address", "00:11:22:33:44:55\n") // virtual: no device
            .file("/sys/class/net/eth0/address", "02:fc:00:00:00:01\n") // locally administered
            .link("/sys/class/net/eth0/device")
            .file("/sys/class/net/eth1/address", "00:00:00:00:00:00\n") // zero
            .link("/sys/class/net/eth1/device")
            .file("/sys/class/net/wlp2s0/address", "A4:5E:60:00:00:02\n")
            .link("/sys/class/net/wlp2s0/device")
            .file("/sys/class/net/enp3s0/address", "A4:5E:60:00:00:01\n")
            .link("/sys/class/net/enp3s0/device");
        assert_eq!(
            linux::mac_address(&fs).as_deref(),
            Some("A4:5E:60:00:00:01")
        );
        let none = Fake::default()
            .file("/sys/class/net/eth0/address", "02:fc:00:00:00:01\n")
            .link("/sys/class/net/eth0/device");
        assert_eq!(linux::mac_address(&none), None);
    }

    const MOUNTINFO: &str = "22 27 0:21 / /proc rw,relatime - proc proc rw\n\
        27 1 8:2 / / rw,relatime - ext4 /dev/sda2 rw\n\
        28 27 0:25 / /tmp rw - tmpfs tmpfs rw\n";

    #[test]
    fn root_partition_resolves_to_its_disk_serial() {
        let fs = Fake::default()
            .file("/proc/self/mountinfo", MOUNTINFO)
            .file(
                "/sys/dev/block/8:2/uevent",
                "MAJOR=8\nMINOR=2\nDEVNAME=sda2\nDEVTYPE=partition\n",
            )
            .link("/sys/block/loop0")
            .link("/sys/block/sda/sda1")
            .link("/sys/block/sda/sda2")
            .file("/sys/block/sda/wwid", "naa.5000c500a1b2c3d4\n")
            .file("/sys/block/sda/device/serial", "  WD-WCC4N1234567 \n");
        assert_eq!(linux::root_disk(&fs).as_deref(), Some("WD-WCC4N1234567"));
        // No serial: the WWID.
        let mut no_serial = fs;
        no_serial.files.remove("/sys/block/sda/device/serial");
        assert_eq!(
            linux::root_disk(&no_serial).as_deref(),
            Some("naa.5000c500a1b2c3d4")
        );
    }

    #[test]
    fn root_on_a_whole_disk_and_on_btrfs() {
        let fs = Fake::default()
            .file(
                "/proc/self/mountinfo",
                "27 1 254:0 / / rw - ext4 /dev/vda rw\n",
            )
            .file("/sys/dev/block/254:0/uevent", "DEVNAME=vda\nDEVTYPE=disk\n")
            .link("/sys/block/vda")
            .file("/sys/block/vda/serial", "overlayblk\n");
        assert_eq!(linux::root_disk(&fs).as_deref(), Some("overlayblk"));
        let btrfs = Fake::default()
            .file(
                "/proc/self/mountinfo",
                "27 1 0:31 /@ / rw - btrfs /dev/nvme0n1p3 rw\n",
            )
            .file("/sys/class/block/nvme0n1p3/uevent", "DEVNAME=nvme0n1p3\n")
            .link("/sys/block/nvme0n1/nvme0n1p3")
            .file("/sys/block/nvme0n1/device/serial", "S4EWNX0N123456\n");
        assert_eq!(linux::root_disk(&btrfs).as_deref(), Some("S4EWNX0N123456"));
        let overlay = Fake::default().file(
            "/proc/self/mountinfo",
            "27 1 0:31 / / rw - overlay overlay rw\n",
        );
        assert_eq!(linux::root_disk(&overlay), None);
    }

    #[test]
    fn hostname_is_read_and_placeholders_skipped() {
        let fs = Fake::default().file("/proc/sys/kernel/hostname", "Build-01\n");
        let fp = linux::collect(&fs);
        assert_eq!(
            fp.components().first().map(Component::value),
            Some("build-01")
        );
        let fs = Fake::default().file("/proc/sys/kernel/hostname", "localhost\n");
        assert_eq!(linux::hostname(&fs), None);
    }

    #[test]
    fn normalization() {
        let n = |kind: ComponentKind, v: &str| Component::new(kind, v).value().to_string();
        assert_eq!(n(ComponentKind::MachineId, " ABCdef\n"), "abcdef");
        assert_eq!(
            n(
                ComponentKind::ProductUuid,
                "4C4C4544-0042-3510-8052-B4C04F4E4B32"
            ),
            "4c4c4544004235108052b4c04f4e4b32"
        );
        assert_eq!(
            n(ComponentKind::MacAddress, "A4-5E-60-00-00-01"),
            "a45e60000001"
        );
        assert_eq!(
            n(ComponentKind::MacAddress, "a4:5e:60:00:00:01"),
            "a45e60000001"
        );
        assert_eq!(
            n(ComponentKind::Hostname, "Host.Example.\n"),
            "host.example"
        );
        assert_eq!(n(ComponentKind::RootDisk, " WD-X1 "), "WD-X1");
        assert_eq!(n(ComponentKind::Custom("id".into()), " I-Ab "), "I-Ab");
    }

    #[test]
    fn debug_hides_raw_values() {
        let fp = Fingerprint::new().with(ComponentKind::Hostname, "secret-host");
        assert!(!format!("{fp:?}").contains("secret-host"));
        assert_eq!(vec![fp.components().len()], vec![1]);
    }
}
