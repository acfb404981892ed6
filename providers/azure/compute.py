"""The agents: a VM Scale Set whose VMs boot Ubuntu and run the agent container via cloud-init.

What makes it a well-behaved fleet rather than a group of VMs:

- Application Health extension (Binary Health States) probing `/healthz` on the agent port;
- automatic instance repairs replace agents that stay unhealthy, after a grace period derived
  from the warm-up (the API's minimum is 10 minutes, so shorter warm-ups get PT10M);
- a terminate notification (Scheduled Events) whose not-before timeout covers the drain, so a
  scale-in waits for the agent to finish its work (it approves the event when done); not on Spot,
  where Azure doesn't allow it;
- the release (image and environment) in `userData`, applied at boot and whenever it changes
  (release.py), and a rolling upgrade policy with surge: a new release rolls out in batches of
  fresh VMs, old ones drained and deleted after their replacements are healthy; sick agents do
  not block the rollout of their fix;
- `sku.capacity` in ignore_changes, with `refresh: always` in Pulumi.yaml: the autoscale setting
  owns the instance count, and a later `pulumi up` sends the live count, not the first one;
- no public IPs, the NSG on every NIC, SSH password authentication off, and an SSH key nobody
  holds the private half of, derived per stack.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence

import pulumi
from pulumi_azure_native import compute, managedidentity, network

from agentfleet.components.policy import SHUTDOWN_MARGIN_SECONDS, ScalingPolicy
from agentfleet.components.schema import FleetConfig
from agentfleet.providers.azure.names import FleetNames, Site
from agentfleet.providers.azure.release import bootstrap_cloud_config, user_data
from agentfleet.providers.azure.settings import (
    REPAIR_GRACE_MAX_SECONDS,
    REPAIR_GRACE_MIN_SECONDS,
    TERMINATE_NOTIFICATION_MAX_SECONDS,
    TERMINATE_NOTIFICATION_MIN_SECONDS,
    AzureSettings,
    fewest_agents,
    iso_duration,
    whole_minutes,
)

ADMIN_USER = "agentfleet"
HEALTH_PATH = "/healthz"
#: Ubuntu 24.04 LTS (Gen2): cloud-init and apt (docker.io) as providers/cloudinit.py expects.
IMAGE = {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server", "version": "latest"}
#: The no-login SSH key (`no_login_key`): RSA with a modulus of this many bits (Azure: at least 2048).
NO_LOGIN_KEY_BITS = 3072
SSH_KEYS_PATH = "virtualMachineProfile.osProfile.linuxConfiguration.ssh.publicKeys"
#: Rolling upgrades: at most this share of the fleet is replaced at once, and at most this share
#: of the upgraded VMs may be unhealthy ("checked after each batch is upgraded. If this percentage
#: is ever exceeded, the rolling update aborts"): a bad release stops early.
ROLLING_BATCH_PERCENT = 20
#: maxUnhealthyInstancePercent: "the total virtual machine instances in the scale set that can be
#: simultaneously unhealthy ... This constraint will be checked prior to starting any batch"
#: (5-100). At 100, sick agents never block the rollout that ships their fix (one of four is 25 %).
MAX_UNHEALTHY_BEFORE_BATCH_PERCENT = 100


#: Application Health extension *Binary Health States*: HTTP 200 is Healthy, anything else (or no
#: answer) Unhealthy -- exactly what the agent's `/healthz` says (200 alive, 503 not). Version 2.0
#: ("Rich Health States") would need `{"ApplicationHealthState": "Healthy"}` in the response body;
#: without it every instance turns *Unknown* when its grace period ends, and automatic repairs
#: replace Unknown instances like Unhealthy ones -- the whole fleet, over and over.
HEALTH_EXTENSION_VERSION = "1.0"


def terminate_notification_seconds(config: FleetConfig) -> int:
    """Not-before timeout of the terminate notification: covers the drain plus the shutdown margin,
    in whole minutes, within the API's 5-15 minutes."""
    wanted = whole_minutes(config.agent.drain_timeout_seconds + SHUTDOWN_MARGIN_SECONDS)
    return max(TERMINATE_NOTIFICATION_MIN_SECONDS, min(TERMINATE_NOTIFICATION_MAX_SECONDS, wanted))


def repair_grace_seconds(config: FleetConfig) -> int:
    """Automatic repairs' grace period: the warm-up, but never under the API's 10-minute minimum."""
    wanted = whole_minutes(config.scaling.warmup_seconds)
    return max(REPAIR_GRACE_MIN_SECONDS, min(REPAIR_GRACE_MAX_SECONDS, wanted))


def health_extension(config: FleetConfig) -> compute.VirtualMachineScaleSetExtensionArgs:
    """Application Health extension (Binary Health States): the platform's view of `/healthz`,
    used by automatic repairs and rolling upgrades. Binary states have no grace setting of their
    own: a warming agent is kept from repairs by the repairs policy's grace period
    (`repair_grace_seconds`, at least the warm-up), and `/healthz` answers 200 during
    warm-up anyway (it is liveness, not readiness)."""
    return compute.VirtualMachineScaleSetExtensionArgs(
        name="HealthExtension",
        publisher="Microsoft.ManagedServices",
        type="ApplicationHealthLinux",
        type_handler_version=HEALTH_EXTENSION_VERSION,
        auto_upgrade_minor_version=True,
        settings={
            "protocol": "http",
            "port": config.agent.port,
            "requestPath": HEALTH_PATH,
            "intervalInSeconds": 5,  # API: 5-60
            "numberOfProbes": 3,  # API: 1-24
        },
    )


def scheduled_events(config: FleetConfig) -> compute.ScheduledEventsProfileArgs | None:
    """The terminate notification that gives a scaled-in agent its drain, or None on Spot.

    Azure: "Terminate notifications cannot be enabled on Spot instances." A Spot agent still
    watches Scheduled Events, for the `Preempt` of an eviction (about 30 s of notice).
    """
    if config.compute.spot:
        return None
    return compute.ScheduledEventsProfileArgs(
        terminate_notification_profile=compute.TerminateNotificationProfileArgs(
            enable=True,
            not_before_timeout=iso_duration(terminate_notification_seconds(config)),
        )
    )


def custom_data(cloud_config: str) -> str:
    """The cloud-init document as the API wants it: base64."""
    return base64.b64encode(cloud_config.encode()).decode()


def _ssh_string(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def _ssh_mpint(value: int) -> bytes:
    return _ssh_string(value.to_bytes(value.bit_length() // 8 + 1, "big"))


def no_login_key(seed: str) -> str:
    """An `ssh-rsa` public key that admits nobody, different for every stack.

    A Linux VM needs a password or an SSH key, and agents need neither. This key's modulus is
    SHAKE-256 of `seed` (the resource group id), made odd and full-length: a number nobody chose
    as a product of two primes, so nobody holds, or can compute, a private key for it. Nothing
    secret is committed or generated, and anyone can re-derive the key to check that."""
    digest = hashlib.shake_256(f"agentfleet-no-login|{seed}".encode()).digest(NO_LOGIN_KEY_BITS // 8)
    modulus = int.from_bytes(digest, "big") | (1 << (NO_LOGIN_KEY_BITS - 1)) | 1
    blob = _ssh_string(b"ssh-rsa") + _ssh_mpint(65_537) + _ssh_mpint(modulus)
    return f"ssh-rsa {base64.b64encode(blob).decode()} agentfleet-no-login"


def build_scale_set(
    parent: pulumi.Resource,
    config: FleetConfig,
    site: Site,
    *,
    policy: ScalingPolicy,
    subnet_id: pulumi.Input[str],
    nsg: network.NetworkSecurityGroup,
    identity: managedidentity.UserAssignedIdentity,
    release: pulumi.Input[str],
    depends_on: Sequence[pulumi.Resource],
) -> compute.VirtualMachineScaleSet:
    names = FleetNames(config.name)
    spot = config.compute.spot
    profile = compute.VirtualMachineScaleSetVMProfileArgs(
        os_profile=compute.VirtualMachineScaleSetOSProfileArgs(
            computer_name_prefix=names.computer_name_prefix,
            admin_username=ADMIN_USER,
            # A fixed bootstrap; the release (image, environment) is in user_data below (release.py).
            custom_data=custom_data(bootstrap_cloud_config()),
            linux_configuration=compute.LinuxConfigurationArgs(
                disable_password_authentication=True,
                provision_vm_agent=True,
                ssh=compute.SshConfigurationArgs(
                    public_keys=[
                        compute.SshPublicKeyArgs(
                            path=f"/home/{ADMIN_USER}/.ssh/authorized_keys",
                            key_data=pulumi.Output.from_input(site.resource_group_id).apply(no_login_key),
                        )
                    ]
                ),
            ),
        ),
        user_data=pulumi.Output.from_input(release).apply(user_data),
        storage_profile=compute.VirtualMachineScaleSetStorageProfileArgs(
            image_reference=compute.ImageReferenceArgs(**IMAGE),
            os_disk=compute.VirtualMachineScaleSetOSDiskArgs(
                create_option="FromImage",
                caching=compute.CachingTypes.READ_WRITE,
                managed_disk=compute.VirtualMachineScaleSetManagedDiskParametersArgs(
                    storage_account_type="StandardSSD_LRS"
                ),
            ),
        ),
        network_profile=compute.VirtualMachineScaleSetNetworkProfileArgs(
            network_interface_configurations=[
                compute.VirtualMachineScaleSetNetworkConfigurationArgs(
                    name=names.nic,
                    primary=True,
                    network_security_group=compute.SubResourceArgs(id=nsg.id),
                    ip_configurations=[
                        # No public_ip_address_configuration: agents get private addresses only.
                        compute.VirtualMachineScaleSetIPConfigurationArgs(
                            name="private",
                            primary=True,
                            subnet=compute.ApiEntityReferenceArgs(id=subnet_id),
                        )
                    ],
                )
            ]
        ),
        extension_profile=compute.VirtualMachineScaleSetExtensionProfileArgs(
            extensions=[health_extension(config)]
        ),
        scheduled_events_profile=scheduled_events(config),
        diagnostics_profile=compute.DiagnosticsProfileArgs(
            boot_diagnostics=compute.BootDiagnosticsArgs(enabled=True)  # managed storage
        ),
        priority="Spot" if spot else "Regular",
        eviction_policy="Delete" if spot else None,
        # -1: pay up to the on-demand price, so Spot VMs are evicted for capacity, never for price.
        billing_profile=compute.BillingProfileArgs(max_price=-1) if spot else None,
    )
    return compute.VirtualMachineScaleSet(
        names.scale_set,
        resource_group_name=site.resource_group,
        location=site.location,
        orchestration_mode="Uniform",
        sku=compute.SkuArgs(
            # Its first count; autoscale owns it after (never below one agent: settings.py).
            name=config.settings_for(AzureSettings).vm_size,
            tier="Standard",
            capacity=fewest_agents(policy),
        ),
        identity=compute.VirtualMachineScaleSetIdentityArgs(
            type=compute.ResourceIdentityType.USER_ASSIGNED, user_assigned_identities=[identity.id]
        ),
        # Overprovisioned VMs would start agents that take messages and are then deleted.
        overprovision=False,
        # Up to 1,000 VMs (a single placement group stops at 100).
        single_placement_group=False,
        upgrade_policy=compute.UpgradePolicyArgs(
            mode=compute.UpgradeMode.ROLLING,
            rolling_upgrade_policy=compute.RollingUpgradePolicyArgs(
                max_batch_instance_percent=ROLLING_BATCH_PERCENT,
                max_unhealthy_instance_percent=MAX_UNHEALTHY_BEFORE_BATCH_PERCENT,
                max_unhealthy_upgraded_instance_percent=ROLLING_BATCH_PERCENT,
                pause_time_between_batches=iso_duration(config.scaling.warmup_seconds),
                prioritize_unhealthy_instances=True,
                max_surge=True,
            ),
        ),
        automatic_repairs_policy=compute.AutomaticRepairsPolicyArgs(
            enabled=True,
            grace_period=iso_duration(repair_grace_seconds(config)),
            repair_action="Replace",
        ),
        virtual_machine_profile=profile,
        opts=pulumi.ResourceOptions(
            parent=parent,
            depends_on=list(depends_on),
            # The autoscale setting changes the count. Pulumi sends the ignored property's value
            # from state, so Pulumi.yaml's `refresh: always` ("always run a refresh as part of a
            # pulumi update / preview / destroy") makes that the live count.
            ignore_changes=[
                "sku.capacity",
                # Azure refuses to change a scale set's SSH keys ("PropertyChangeNotAllowed:
                # Changing property 'linuxConfiguration.ssh.publicKeys' is not allowed"): a stack
                # created with an older key keeps it until its scale set is replaced.
                SSH_KEYS_PATH,
            ],
        ),
    )
