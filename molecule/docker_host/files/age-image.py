"""Load a copy of a local image under a new tag, with an older creation date.

    age-image SOURCE TARGET HOURS

`docker image prune --filter until=D` judges an image by the `created` field
of its configuration, which no build command lets a test set to the past.
This copies SOURCE (`docker save`), rewrites `created` to HOURS ago, and
loads it as TARGET (`docker load`): same layers, a new image ID. Prints the
new image ID.
"""

import argparse
import datetime
import hashlib
import io
import json
import subprocess
import tarfile


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("source")
    parser.add_argument("target")
    parser.add_argument("hours", type=float)
    args = parser.parse_args()

    saved = subprocess.run(["docker", "save", args.source], check=True, stdout=subprocess.PIPE).stdout
    created = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=args.hours)

    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(saved)) as src, tarfile.open(fileobj=out, mode="w") as dst:
        manifest = json.load(src.extractfile("manifest.json"))[0]
        config = json.load(src.extractfile(manifest["Config"]))
        config["created"] = created.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        config_bytes = json.dumps(config, separators=(",", ":")).encode()
        config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"

        def add(name, data):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            dst.addfile(info, io.BytesIO(data))

        for layer in manifest["Layers"]:
            add(layer, src.extractfile(layer).read())
        add(config_name, config_bytes)
        new_manifest = [{"Config": config_name, "RepoTags": [args.target], "Layers": manifest["Layers"]}]
        add("manifest.json", json.dumps(new_manifest).encode())

    subprocess.run(["docker", "load", "--quiet"], input=out.getvalue(), check=True, stdout=subprocess.DEVNULL)
    print("sha256:" + config_name[: -len(".json")])


if __name__ == "__main__":
    main()
