from autonomy import Node

# A bare node: the main pod ships its workers here.
Node.start()
