def resource_outputs(typ, name, inputs, config):
    return f"{name}-id", {"arn": f"arn:aws:sqs:us-east-1:123456789012:{name}", "url": f"https://sqs/{name}"}
def invoke(token, args, config):
    return {}
